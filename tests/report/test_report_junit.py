"""JUnit XML parsed with xml.etree and checked against the common (Jenkins junit-10.xsd) structure."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from report_fixtures import WAIVER, sample_report

from scanner.report import render

# Element and attribute structure of the common JUnit XSD (Jenkins xunit junit-10.xsd).
_SUITES_ATTRS = {"name", "time", "tests", "failures", "disabled", "errors"}
_SUITE_ATTRS = {
    "name",
    "tests",
    "failures",
    "errors",
    "time",
    "disabled",
    "skipped",
    "timestamp",
    "hostname",
    "id",
    "package",
    "file",
    "log",
    "url",
    "version",
}
_SUITE_CHILDREN = ["properties", "testcase", "system-out", "system-err"]  # in this order
_CASE_ATTRS = {"name", "assertions", "time", "classname", "status"}
_CASE_CHILDREN = ["skipped", "error", "failure", "system-out", "system-err"]  # in this order


def _check_structure(root: ET.Element) -> None:
    assert root.tag == "testsuites" and set(root.attrib) <= _SUITES_ATTRS
    for suite in root:
        assert suite.tag == "testsuite" and set(suite.attrib) <= _SUITE_ATTRS
        assert {"name", "tests"} <= set(suite.attrib)
        for attr in ("tests", "failures", "errors", "skipped"):
            assert suite.get(attr, "0").isdigit()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp", ""))
        order = [_SUITE_CHILDREN.index(child.tag) for child in suite]
        assert order == sorted(order)
        for prop in suite.iter("property"):
            assert set(prop.attrib) == {"name", "value"}
        for case in suite.iter("testcase"):
            assert set(case.attrib) <= _CASE_ATTRS and case.get("name")
            float(case.get("time", "0"))
            order = [_CASE_CHILDREN.index(child.tag) for child in case]
            assert order == sorted(order)
            for outcome in case:
                if outcome.tag in ("failure", "error"):
                    assert {"message", "type"} <= set(outcome.attrib)


def _counts(suite: ET.Element) -> dict[str, int]:
    cases = suite.findall("testcase")
    outcome = {"failures": "failure", "errors": "error", "skipped": "skipped"}
    return {
        "tests": len(cases),
        **{attr: sum(c.find(tag) is not None for c in cases) for attr, tag in outcome.items()},
    }


def test_one_testcase_per_device_and_covered_fails() -> None:
    report = sample_report()
    root = ET.fromstring(render(report, "junit"))
    _check_structure(root)
    suite = root.find("testsuite")
    assert suite is not None
    device_cases = [c for c in suite.findall("testcase") if c.get("classname") != "ndaa889.scan"]
    assert len(device_cases) == len(report.devices)
    failed = [c for c in device_cases if c.find("failure") is not None]
    covered_unwaived = [d for d in report.devices if d.verdict.status == "covered" and not d.verdict.waived]
    assert [c.get("name", "").split()[0] for c in failed] == [d.ip for d in covered_unwaived]
    counts = _counts(suite)
    for attr, value in counts.items():
        assert suite.get(attr) == str(value), attr
    assert root.get("tests") == str(counts["tests"]) and root.get("failures") == str(counts["failures"])
    failure = failed[0].find("failure")
    assert failure is not None and failure.get("type") == "covered"
    assert '[+] sadp sadp.DeviceDescription:37020 = "DS-2CD2385G1-I"' in (failure.text or "")


def test_waived_covered_is_skipped_with_the_waiver() -> None:
    suite = ET.fromstring(render(sample_report(), "junit")).find("testsuite")
    assert suite is not None
    skipped = [c for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert len(skipped) == 1
    assert skipped[0].find("skipped").get("message") == f"waived: {WAIVER}"  # type: ignore[union-attr]


def test_fail_statuses_follow_the_policy() -> None:
    report = sample_report()
    root = ET.fromstring(render(report, "junit", fail_statuses={"covered", "likely", "suspected"}))
    _check_structure(root)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "4"  # 1 covered (the other is waived) + 2 likely + 1 suspected
    failures = list(suite.iter("failure"))
    assert sorted(f.get("type", "") for f in failures) == ["covered", "likely", "likely", "suspected"]
    none = ET.fromstring(render(report, "junit", fail_statuses=set()))
    assert none.get("failures") == "0"


def test_incomplete_scan_is_an_error_case_and_complete_is_not() -> None:
    report = sample_report()
    root = ET.fromstring(render(report, "junit"))
    errors = [c for c in root.iter("testcase") if c.find("error") is not None]
    assert [c.get("name") for c in errors] == ["scan completeness"] and root.get("errors") == "1"
    complete = ET.fromstring(render(report.model_copy(update={"complete": True}), "junit"))
    assert complete.get("errors") == "0" and complete.get("tests") == str(len(report.devices))


def test_hostile_strings_stay_well_formed_and_on_one_line() -> None:
    text = render(sample_report(), "junit")
    root = ET.fromstring(text)  # would raise on a raw ESC (not allowed in XML 1.0)
    names = [c.get("name", "") for c in root.iter("testcase")]
    hostile = next(n for n in names if n.startswith("192.168.1.200"))
    assert "<script>alert(1)</script>" in hostile and "\n" not in hostile and "\\x1b[2J" in hostile
    assert "<script>" not in text  # escaped in the serialised XML
