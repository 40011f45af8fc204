"""Every format renders a 1,000-device report whole (its speed is measured in benchmarks/bench_hot_paths.py)."""

from __future__ import annotations

import pytest
from report_fixtures import large_report

from scanner.report import FORMATS, render
from scanner.results import ScanReport


@pytest.fixture(scope="module")
def thousand() -> ScanReport:
    return large_report(1000)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_thousand_devices_render_whole(fmt: str, thousand: ScanReport) -> None:
    text = render(thousand, fmt)
    assert "10.0.0.1" in text.replace("\\", "")  # the first device
    assert text.count("10.0.3.231") >= 1  # and the last are in the output
