"""Uniview (not a §889 entity) is named from what crosses a router: its model number in the ONVIF
hardware scope. Dahua's model numbers (IPC-…, DH-IPC-…) and generic names (IPC, IPC-model) are not
taken for Uniview."""

from __future__ import annotations

import pytest

from scanner.identify.models import Status, Verdict
from scanner.identify.verdict import identify
from scanner.observations import Device, Observation

IP = "10.1.2.3"


def verdict_of(scopes: list[str], **decoded: str) -> Verdict:
    obs = [Observation(signal="wsd.scope", value=s, probe="wsd", ip=IP) for s in scopes]
    obs += [Observation(signal=f"onvif.{k}", value=v, probe="wsd", ip=IP) for k, v in decoded.items()]
    return identify(Device(ip=IP, observations=obs))


def test_uniview_named_from_hardware_scope_across_a_router() -> None:
    # the scopes of the lab's uniview-ipc profile: the name scope says only "IPC"
    v = verdict_of(
        [
            "onvif://www.onvif.org/type/video_encoder",
            "onvif://www.onvif.org/name/IPC",
            "onvif://www.onvif.org/hardware/IPC2124LR3-PF40M-D",
            "onvif://www.onvif.org/location/country/china",
        ],
        hardware="IPC2124LR3-PF40M-D",
        name="IPC",
    )
    assert v.status == Status.NOT_COVERED
    assert v.vendor == "Uniview"
    assert v.model == "IPC2124LR3-PF40M-D"
    assert v.covered_entity is None


@pytest.mark.parametrize(
    "hardware",
    ["IPC-HDW1230T2", "DH-IPC-HDW1230T2", "IPC-model", "IPC", "DS-2CD2385G1-I", "CP-UNC-DA21PL3C-V3"],
)
def test_other_makers_models_are_not_uniview(hardware: str) -> None:
    v = verdict_of([f"onvif://www.onvif.org/hardware/{hardware}"], hardware=hardware)
    assert v.vendor != "Uniview"
    assert not any(e.vendor == "Uniview" for e in v.evidence)


def test_dahua_scopes_stay_dahua() -> None:
    v = verdict_of(["onvif://www.onvif.org/name/Dahua", "onvif://www.onvif.org/hardware/DH-IPC-HDW1230T2"])
    assert v.vendor == "Dahua"
