"""Reading a line-based input file without trusting its line lengths: each line is read with a bound, and a
longer one is skipped (reported as a problem) without ever being held whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

Problems = Callable[[int, str], None]


class BoundedLines:
    """The lines of ``stream`` with their numbers (from 1), each at most ``limit`` bytes: a longer one is
    read on past in ``limit``-byte pieces, reported to ``problems`` and not yielded. ``count`` is how
    many lines were read, skipped ones included."""

    def __init__(self, stream: BinaryIO, problems: Problems, limit: int) -> None:
        self.stream = stream
        self.problems = problems
        self.limit = limit
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        while True:
            raw = self.stream.readline(self.limit + 1)
            if not raw:
                return
            self.count += 1
            if len(raw) > self.limit and not raw.endswith(b"\n"):
                self._skip_rest_of_line()
                self.problems(self.count, f"line longer than {self.limit} bytes: skipped")
                continue
            yield self.count, raw

    def _skip_rest_of_line(self) -> None:
        while True:
            more = self.stream.readline(self.limit)
            if not more or more.endswith(b"\n"):
                return
