"""Captured replies that a protocol's unit tests (tests/discovery/) and lab tests (tests/lab/) both use,
read once from tests/data/<protocol>/."""

from __future__ import annotations

from paths import DATA_DIR


def _read(protocol: str, *names: str) -> list[bytes]:
    return [(DATA_DIR / protocol / name).read_bytes() for name in names]


# an AXIS M1014's and a Huawei HG8245H's M-SEARCH replies, and the AXIS M1014's description
SSDP_AXIS, SSDP_HUAWEI, SSDP_AXIS_DESC = _read(
    "ssdp", "axis-m1014-reply.bin", "huawei-hg8245h-reply.bin", "axis-m1014-rootdesc.xml"
)
# a DS-2CD2385G1-I's SADP ProbeMatch, and an OEM's on one line
SADP_REAL, SADP_OEM = _read("sadp", "probematch_ds-2cd2385g1-i.xml", "probematch_oem_one_line.xml")
# WS-Discovery ProbeMatches of a Hikvision DS-2CD2385G1-I and a CP Plus camera
WSD_HIK, WSD_CPPLUS = _read("wsd", "hikvision-ds2cd2385g1i.xml", "cpplus-oasis-2009.xml")
# hostile WS-Discovery replies in tests/data/wsd/
WSD_HOSTILE = ["fault.xml", "billion-laughs.xml", "external-entity.xml", "truncated.xml"]
