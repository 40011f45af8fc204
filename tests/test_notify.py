"""Alerts for scheduled scans (scanner.notify) without a network: which devices alert, and the URL rules.
The end-to-end delivery to a real receiver is tests/lab/test_lab_notify.py."""

from __future__ import annotations

import pytest
from report_fixtures import sample_report

from scanner.errors import UsageError
from scanner.notify import Notifier, alert_message


def test_the_first_scan_of_a_scope_alerts_on_every_unwaived_covered_or_likely_device() -> None:
    report = sample_report()
    message = alert_message(report, None)
    assert message is not None and message["previous_scan_id"] is None
    expected = [
        d.ip
        for d in report.devices
        if d.verdict.status.value in ("covered", "likely") and not d.verdict.waived
    ]
    assert [a["ip"] for a in message["alerts"]] == expected
    assert all(a["change"] == "appeared" for a in message["alerts"])
    assert any(d.verdict.waived for d in report.devices)  # the fixture has a waived device: it never alerts


def test_an_unchanged_rescan_alerts_on_nothing() -> None:
    report = sample_report()
    assert alert_message(report, report) is None


def test_a_device_that_became_covered_alerts_as_changed() -> None:
    before = sample_report()
    after = before.model_copy(deep=True)
    target = next(d for d in after.devices if d.verdict.status.value == "likely")
    target.verdict.status = type(target.verdict.status)("covered")
    message = alert_message(after, before)
    assert message is not None
    (alert,) = message["alerts"]
    assert (alert["change"], alert["ip"], alert["status"]) == ("changed", target.ip, "covered")
    assert {"field": "status", "before": "likely", "after": "covered"} in alert["changes"]


@pytest.mark.parametrize("url", ["ftp://x/y", "file:///etc/passwd", "127.0.0.1:80", "http://"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(UsageError, match="--notify"):
        Notifier((url,))
