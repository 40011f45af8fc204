"""Every format renders 1,000 devices in under a second (best of three, to ride out a busy CI core)."""

from __future__ import annotations

import time

import pytest
from report_fixtures import large_report

from scanner.report import FORMATS, render
from scanner.results import ScanReport

LIMIT_SECONDS = 1.0


@pytest.fixture(scope="module")
def thousand() -> ScanReport:
    return large_report(1000)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_thousand_devices_under_a_second(fmt: str, thousand: ScanReport) -> None:
    render(thousand, fmt)  # import and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        text = render(thousand, fmt)
        best = min(best, time.perf_counter() - start)
    assert text.count("10.0.3.231") >= 1  # the last device is in the output
    assert best < LIMIT_SECONDS, f"{fmt}: {best:.3f} s for 1000 devices"
