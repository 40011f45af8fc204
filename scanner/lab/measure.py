"""Run a command and measure its wall time and its own peak memory, for the lab's tests and benchmarks.

The peak (max RSS) comes from wait4(2) in a small intermediate Python process, not in the caller: a child
spawned straight from a big process (pytest, a benchmark holding reports) starts on the caller's memory
(vfork/fork share or copy its pages), and the kernel's max RSS of that child then counts the caller's size.
The floor of the figure is the intermediate process's own size (about 10 MB).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Measured:
    seconds: float
    max_rss_mb: float  # the command's own peak resident memory (with its children's)
    returncode: int
    stdout: str
    stderr: str


def run_measured(cmd: list[str], timeout: float = 300.0, cwd: str | Path | None = None) -> Measured:
    """Run ``cmd`` to its end (killed after ``timeout`` seconds: returncode -9)."""
    with tempfile.TemporaryDirectory(prefix="ndaa-measure-") as tmp:
        rss_file = Path(tmp) / "maxrss"
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRAPPER, str(rss_file), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,  # its own process group: a timeout kills the command too
        )
        try:
            out, err = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            code = -9
        seconds = time.monotonic() - start
        try:
            rss_mb = int(rss_file.read_text()) / 1024
        except (OSError, ValueError):
            rss_mb = float("nan")
    return Measured(seconds, rss_mb, code, out.decode(errors="replace"), err.decode(errors="replace"))
