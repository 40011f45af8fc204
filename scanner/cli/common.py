"""What every command shares: error handling, exit codes, stderr output and progress."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

EXIT_CODES_HELP = """Exit codes: 0 the scan completed and found nothing failing (per --fail-on);
1 failing equipment found (also in a partial report); 2 usage error (bad target, option or file, an
output path or history database that cannot be written: nothing was scanned); 3 the scan did not
complete (interrupted, a probe failed, the network unreachable) and found nothing failing, or it
could not run (privileges, a broken data file); 130 stopped by Ctrl-C or SIGTERM before any report
was written (a scan stopped midway writes its partial report and exits 1 or 3 instead)."""
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM before a scan began: no report exists to say anything
INTERRUPTED_MESSAGE = f"interrupted before a report was written (exit {EXIT_INTERRUPTED})"


def err(message: str) -> None:
    """One line on stderr, prefixed with the program name."""
    sys.stderr.write(f"ndaa-scan: {message}\n")
    sys.stderr.flush()


def run_app(app: Any) -> int:
    import typer

    from scanner.errors import NdaaError

    try:  # typer >= 0.16 vendors click as typer._click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions as click_exc  # type: ignore[no-redef]

    signal.signal(signal.SIGTERM, _sigterm)
    try:
        rv = app(standalone_mode=False)  # click returns a typer.Exit's code instead of raising it here
        if rv == EXIT_INTERRUPTED:  # typer turns a KeyboardInterrupt into a silent Exit(130)
            err(INTERRUPTED_MESSAGE)
        return rv if isinstance(rv, int) else 0
    except NdaaError as exc:
        err(f"error: {exc}")
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except click_exc.ClickException as exc:  # usage errors from typer/click: one line, exit 2
        exc.show()
        return exc.exit_code if exc.exit_code in (0, 2) else 2
    except (typer.Abort, KeyboardInterrupt):
        err(INTERRUPTED_MESSAGE)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ndaa-scan … | head`: the reader left; that is not an error
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0


def _sigterm(signum: int, frame: object) -> None:
    """Stop like Ctrl-C. Re-raised as SIGINT while a Python handler holds it (asyncio.run's cancels the
    scan's task cleanly; a KeyboardInterrupt raised here would land inside whichever task runs)."""
    if callable(signal.getsignal(signal.SIGINT)):
        signal.raise_signal(signal.SIGINT)
    else:  # SIGINT ignored (a background job): stop anyway
        raise KeyboardInterrupt


def check_outputs(specs: list[str]) -> None:
    """Every report spec is valid and every FORMAT=PATH can be written, before any packet is sent:
    UsageError (exit 2) naming the first that cannot. Writes and removes the writer's own temporary
    file next to each path (``.NAME.tmp``), so read-only file systems and missing rights are caught too."""
    from scanner.errors import UsageError
    from scanner.report import parse_spec

    outputs = [parse_spec(s) for s in specs]
    if sum(o.path is None for o in outputs) > 1:
        raise UsageError("only one report format can go to standard output; give the others FORMAT=PATH")
    for out in outputs:
        if out.path is None:
            continue
        path = out.path
        if path.is_dir():
            raise UsageError(f"cannot write report {str(path)!r}: it is a directory")
        probe = path.with_name(f".{path.name}.tmp")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # a writer's leftover: the directory is writable enough to have held it
        except OSError as exc:
            raise UsageError(
                f"cannot write report {str(path)!r}: {exc.strerror or exc} (nothing was scanned)"
            ) from None
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(probe)


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2:
        level = logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(
        level=level, stream=sys.stderr, format="ndaa-scan: %(levelname)s %(name)s: %(message)s"
    )


def progress_line(view: Any) -> str:
    """One line for a ``scanner.progress.ProgressView``: phase, hosts done/total, devices found, covered
    so far, packets sent and the ETA ("≤" when it is the round's budget rather than an extrapolation);
    the probes still running last, as the terminal's width allows."""
    phase = view.phase
    if view.sent_share is not None:
        phase += f" {view.sent_share:.0%}"
    parts = [
        f"{phase} {view.hosts_done:,}/{view.hosts_total:,} hosts done",
        f"{view.devices:,} found",
        f"{view.covered:,} covered" + (f" {view.likely:,} likely" if view.likely else ""),
    ]
    if view.heard:
        parts.append(f"{view.heard:,} heard")
    if view.packets:
        parts.append(f"{_count(view.packets)} pkts")
    if view.phase == "done":
        parts.append(f"in {_clock(view.elapsed)}")
    elif view.eta is not None:
        parts.append(f"ETA {'≤' if view.eta_bound else ''}{_clock(view.eta)}")
    line = " · ".join(parts)
    if view.running and view.phase != "done":
        line += f" [{', '.join(view.running)}]"
    return line


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)


def _clock(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"


class Progress:
    """A one-line live status on stderr while a scan runs, redrawn in place: nothing at all when stderr
    is not a terminal (pipes and files stay clean), with --quiet, or on a dumb terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        self._status: Any = None
        self._width: Callable[[], int] = lambda: 80

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console

            console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")))
            self._width = lambda: console.width
            self._status = console.status("starting…")
            self._status.__enter__()
        return self

    def update(self, view: Any) -> None:
        """Show a ``scanner.progress.ProgressView``."""
        if self._status is not None:
            from rich.text import Text

            line, width = progress_line(view), max(20, self._width() - 3)  # one row: never wrapped
            self._status.update(Text(line if len(line) <= width else line[: width - 1] + "…"))  # not markup

    def stop(self) -> None:
        """End the live line (before the report is written to stdout); later updates are ignored."""
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def __exit__(self, *exc: object) -> None:
        self.stop()
