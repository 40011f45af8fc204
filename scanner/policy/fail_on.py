"""``--fail-on``: which verdicts make a scan exit non-zero, and the exit code itself.

Exit codes (docs/ARCHITECTURE.md):

- 0: the scan completed and no unwaived device has a failing status;
- 1: at least one unwaived device has a failing status, whether or not the scan completed
  (what was found stands even if the scan was cut short);
- 3: the scan did not complete (interrupted, killed, a failure) and nothing failing was found
  in what it did see: "clean" cannot be claimed, so it is not 0. This holds for ``never`` too.

Hosts heard outside the targets (``ScanReport.heard``: they answered a multicast/broadcast probe but
were not scanned) count only with ``fail_on_heard=True`` (the CLI's ``--fail-on-heard``).

A device counts as waived only through ``verdict.waived``, which ``waivers.apply_waivers`` sets
for unexpired waivers alone, so an expired waiver fails like no waiver.

Light at import (no pydantic): the CLI may use ``FailOn`` as an option type.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from scanner.errors import ScanFailed, UsageError

if TYPE_CHECKING:
    from scanner.identify.models import Status
    from scanner.results import DeviceReport, ScanReport

EXIT_CLEAN = 0
EXIT_FOUND = 1
EXIT_INCOMPLETE = ScanFailed.exit_code


class FailOn(enum.StrEnum):
    """The weakest verdict that still fails the scan; ``never`` reports without failing."""

    COVERED = "covered"
    LIKELY = "likely"
    SUSPECTED = "suspected"
    NEVER = "never"

    @property
    def fail_statuses(self) -> frozenset[Status]:
        """Every status at least as strong as this one (``likely`` -> covered and likely)."""
        from scanner.identify.models import Status

        if self is FailOn.NEVER:
            return frozenset()
        weakest = Status(self.value)
        return frozenset(s for s in Status if s.rank <= weakest.rank)


DEFAULT_FAIL_ON = FailOn.LIKELY


def parse_fail_on(text: str) -> FailOn:
    """``"Likely "`` -> ``FailOn.LIKELY``; UsageError naming the choices otherwise."""
    try:
        return FailOn(text.strip().lower())
    except ValueError:
        choices = ", ".join(f.value for f in FailOn)
        raise UsageError(f"--fail-on: expected one of {choices}, got {text!r}") from None


def failing_devices(
    report: ScanReport, fail_on: FailOn = DEFAULT_FAIL_ON, *, fail_on_heard: bool = False
) -> list[DeviceReport]:
    """Unwaived devices whose status fails under ``fail_on``, strongest first; with ``fail_on_heard``,
    then the failing hosts heard outside the targets (``report.heard``)."""
    statuses = fail_on.fail_statuses
    candidates = report.sorted_devices()
    if fail_on_heard and report.heard:
        candidates += report.model_copy(update={"devices": report.heard}).sorted_devices()
    return [d for d in candidates if d.verdict.status in statuses and not d.verdict.waived]


def exit_code(report: ScanReport, fail_on: FailOn = DEFAULT_FAIL_ON, *, fail_on_heard: bool = False) -> int:
    """0 clean, 1 something failing found, 3 incomplete with nothing failing found (see module doc).

    Hosts heard outside the targets never change the code unless ``fail_on_heard`` (``--fail-on-heard``).
    """
    if failing_devices(report, fail_on, fail_on_heard=fail_on_heard):
        return EXIT_FOUND
    return EXIT_CLEAN if report.complete else EXIT_INCOMPLETE
