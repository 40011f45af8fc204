"""SNMP against the lab's agent: only with the right community, never guessed; Hytera by enterprise number."""

from __future__ import annotations

import pytest
from clirun import scan_lab_json

from scanner.discovery.base import ProbeStatus
from scanner.discovery.snmp import SnmpProbe

pytestmark = pytest.mark.netns

REPEATER = {"name": "rptr", "ip": "10.99.0.22", "mac": "64:69:bc:10:20:30", "profile": "hytera-repeater"}


def _snmp(lab, community: str | None):
    from scanner.discovery.base import ProbeContext
    from scanner.discovery.options import ProbeOptions
    from scanner.lab.netns import run_in_netns
    from scanner.targets import parse_targets

    def go():
        import asyncio

        options = ProbeOptions(snmp_community=community or None)
        ctx = ProbeContext(
            targets=parse_targets(["10.99.0.22"]), interface="eth0", timeout=2.0, options=options
        )
        return asyncio.run(SnmpProbe().run(ctx))

    return run_in_netns(lab.scanner_ns, go)


def test_the_agent_answers_the_right_community_only(lab_factory):
    lab = lab_factory([REPEATER])
    good = _snmp(lab, "hytera")
    assert {(o.signal, o.value) for o in good.observations} == {
        ("snmp.sys_descr", "RD985"),
        ("snmp.sys_object_id", "1.3.6.1.4.1.40297.1.2.1"),
    }
    wrong = _snmp(lab, "public")
    assert wrong.observations == []
    none = _snmp(lab, None)
    assert none.observations == [] and none.status in (ProbeStatus.SKIPPED, ProbeStatus.NO_RESPONSE)


def test_hytera_is_likely_by_oui_and_covered_with_the_community(lab_factory):
    lab = lab_factory([REPEATER])

    def scan(*extra: str) -> dict:
        return scan_lab_json(lab, *extra, target="10.99.0.0/27")["devices"][0]["verdict"]

    plain = scan()
    assert (plain["status"], plain["covered_entity"]) == ("likely", "Hytera")
    with_snmp = scan("--snmp-community", "hytera")
    assert (with_snmp["status"], with_snmp["covered_entity"]) == ("covered", "Hytera")
    assert any(e["probe"] == "snmp" and e["signal"] == "snmp.sys_object_id" for e in with_snmp["evidence"])
