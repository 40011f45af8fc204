"""The host name a user gave as a target is shown beside the address it resolved to: JSON ``hostname`` on
the device, and the table, CSV, HTML and Markdown reports; a heard host never gets one, and a name is
text from the command line, shown escaped like any other."""

from __future__ import annotations

import csv
import io
import json
from ipaddress import IPv4Address, IPv6Address

from scanner.identify.models import Verdict
from scanner.observations import Observation, group_by_host
from scanner.report import render
from scanner.results import DeviceReport, ScanReport, build_report
from scanner.targets import Scope, Targets6

NAME = "cam1.lab.test"


def report() -> ScanReport:
    seen = [
        Observation(
            signal="mac", value="ac:cc:8e:27:0a:d8", probe="arp", ip="10.0.0.5", mac="ac:cc:8e:27:0a:d8"
        ),
        Observation(signal="http.server", value="x", probe="http", ip="2001:db8::9"),
        Observation(signal="sadp.reply", value="x", probe="sadp", ip="10.0.0.77"),  # heard only
    ]
    scope = Scope(
        targets=frozenset({IPv4Address("10.0.0.5")}),
        ipv6=Targets6(hosts=frozenset({IPv6Address("2001:db8::9")})),
        names={"10.0.0.5": NAME, "2001:db8::9": "v6<b>.lab.test"},
    )
    return build_report([DeviceReport.of(d, Verdict()) for d in group_by_host(seen)], scope=scope)


def test_json_has_the_name_on_the_device_and_none_on_heard_hosts() -> None:
    data = json.loads(render(report(), "json"))
    assert {d["ip"]: d["hostname"] for d in data["devices"]} == {
        "10.0.0.5": NAME,
        "2001:db8::9": "v6<b>.lab.test",
    }
    assert [(d["ip"], d["hostname"]) for d in data["heard"]] == [("10.0.0.77", None)]


def test_table_csv_html_and_markdown_show_it_beside_the_address() -> None:
    r = report()
    assert f"10.0.0.5 ({NAME})" in render(r, "table", width=160, color=False)
    rows = {row["ip"]: row for row in csv.DictReader(io.StringIO(render(r, "csv")))}
    assert rows["10.0.0.5"]["hostname"] == NAME and rows["10.0.0.77"]["hostname"] == ""
    html = render(r, "html")
    assert f'10.0.0.5<span class="sub">{NAME}</span>' in html
    assert "v6&lt;b&gt;.lab.test" in html and "v6<b>" not in html
    assert f"| `10.0.0.5` (`{NAME}`) |" in render(r, "markdown")
