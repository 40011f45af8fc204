"""What every discovery probe does with nothing to do or an interface that does not exist: a result, never
an exception, and nothing sent (one test per probe, merged from the protocols' test files)."""

from __future__ import annotations

import asyncio

import pytest

from scanner.discovery.base import ProbeContext, ProbeStatus
from scanner.discovery.mdns import MdnsProbe
from scanner.discovery.sadp import SadpProbe
from scanner.discovery.ssdp import SsdpProbe
from scanner.discovery.wsd import WsdProbe

UDP_SEARCHES = [SadpProbe, SsdpProbe, WsdProbe]


@pytest.mark.parametrize("probe", UDP_SEARCHES)
def test_nothing_to_do_sends_nothing(probe):
    result = asyncio.run(probe().run(ProbeContext(targets=[])))
    assert result.status == ProbeStatus.SKIPPED
    assert (result.sent, result.observations) == (0, [])


@pytest.mark.parametrize("probe", [*UDP_SEARCHES, MdnsProbe])
def test_unknown_interface_is_an_error_not_an_exception(probe):
    result = asyncio.run(probe().run(ProbeContext(targets=[], interface="nd-no-such-if")))
    assert result.status == ProbeStatus.ERROR
    assert "nd-no-such-if" in (result.error or "")
    assert result.sent == 0
