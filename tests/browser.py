"""Headless Chromium for the HTML report tests (Debian's chromium; .ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from labtools import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def require_chromium() -> str:
    """The browser's path; a skip without it (a failure under CI=true)."""
    require(None if CHROMIUM else "chromium is not installed (apt-get install -y chromium)")
    assert CHROMIUM is not None
    return CHROMIUM


def run_chromium(binary: str, tmp: Path, *args: str) -> str:
    """Chromium headless with every background connection off (this machine's network is closed)."""
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}",
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dump_dom(binary: str, tmp: Path, page: Path, fragment: str = "") -> str:
    """The page's DOM after its scripts ran."""
    return run_chromium(binary, tmp, "--dump-dom", page.as_uri() + fragment)


def body_attr(dom: str, name: str) -> str:
    match = re.search(rf'<body[^>]*\s{name}="([^"]*)"', dom)
    assert match, name
    return match.group(1)


def statuses(dom: str, *, visible_only: bool = False) -> list[str]:
    """The status of each device row, in page order (visible rows only if asked)."""
    bodies = re.findall(r'<tbody class="device[^"]*" data-status="([^"]+)"[^>]*?(\shidden="")?>', dom)
    return [s for s, hidden in bodies if not (visible_only and hidden)]
