"""ONVIF device service: SOAP requests and replies (real-shaped device answers, faults, junk) and the probe
against the lab's web server on 127.0.0.1, with and without credentials from the environment."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from datetime import UTC, datetime
from ipaddress import IPv4Address
from typing import Any

import pytest
from defusedxml import ElementTree
from hypothesis import given, settings
from hypothesis import strategies as st
from labtools import run_served, serving
from paths import DATA_DIR

from scanner.cli.scan_cmd import onvif_credentials
from scanner.discovery.base import ProbeContext, ProbeResult, ProbeStatus
from scanner.discovery.onvif import PASSWORD_ENV, USER_ENV, OnvifProbe, device_services
from scanner.discovery.options import Credentials, Handoff, ProbeOptions
from scanner.discovery.parsers import vendor_endpoints as soap
from scanner.discovery.parsers.vendor_endpoints import DEVICE_WSDL, SOAP_ENV
from scanner.lab.sim.device import SimDevice
from scanner.lab.sim.http import WebApp
from scanner.lab.sim.runtime import profiles

DATA = DATA_DIR / "banners"


def test_system_date_and_time_of_a_real_reply() -> None:
    answer = soap.parse_soap((DATA / "onvif_get_system_date_and_time.xml").read_bytes())
    assert answer is not None and answer.fault is None
    assert answer.response == "GetSystemDateAndTimeResponse"
    assert soap.system_date_and_time(answer) == (
        "2020-04-29T07:25:17Z",
        "CST-8:00:00",
    )  # UTC, not the local 15:25
    assert soap.device_information(answer) == {}


def test_device_information_of_a_hikvision_camera() -> None:
    answer = soap.parse_soap((DATA / "onvif_get_device_information_hikvision.xml").read_bytes())
    assert answer is not None
    assert soap.device_information(answer) == {
        "onvif.manufacturer": "HIKVISION",
        "onvif.model": "DS-2CD1343G2-LIUF",
        "onvif.firmware": "V5.8.4",
        "onvif.serial": "DS-2CD1343G2-LIUF20240823AAWRFM5354993",
    }
    assert soap.system_date_and_time(answer) == (None, None)


def test_fault_code() -> None:
    answer = soap.parse_soap((DATA / "onvif_fault_not_authorized.xml").read_bytes())
    assert answer is not None and answer.response is None and answer.fault == "ter:NotAuthorized"


@pytest.mark.parametrize(
    "body",
    [
        (DATA / "xml_bomb.xml").read_bytes(),
        b"<html><title>login</title></html>",
        b"",
        f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body/></e:Envelope>'.encode(),
        f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Header/></e:Envelope>'.encode(),
    ],
)
def test_not_an_answer(body: bytes) -> None:
    assert soap.parse_soap(body) is None


def test_date_fields_out_of_range_are_dropped() -> None:
    body = (
        f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body><GetSystemDateAndTimeResponse><SystemDateAndTime>'
        "<UTCDateTime><Time><Hour>25</Hour><Minute>0</Minute><Second>0</Second></Time>"
        "<Date><Year>2024</Year><Month>1</Month><Day>1</Day></Date></UTCDateTime>"
        "</SystemDateAndTime></GetSystemDateAndTimeResponse></e:Body></e:Envelope>"
    ).encode()
    answer = soap.parse_soap(body)
    assert answer is not None and soap.system_date_and_time(answer) == (None, None)


def test_requests_are_soap_1_2_device_service_calls() -> None:
    for raw, op in (
        (soap.get_system_date_and_time(), "GetSystemDateAndTime"),
        (soap.get_device_information(), "GetDeviceInformation"),
    ):
        root = ElementTree.fromstring(raw)
        assert root.tag == f"{{{SOAP_ENV}}}Envelope"
        body = root.find(f"{{{SOAP_ENV}}}Body")
        assert body is not None and body[0].tag == f"{{{DEVICE_WSDL}}}{op}"


def test_username_token_digest_and_escaping() -> None:
    nonce = bytes(range(16))
    created = "2020-04-29T07:25:17Z"
    header = soap.username_token("ad<min", "pa&ss", created, nonce)
    root = ElementTree.fromstring(soap.get_device_information(header))
    values = {e.tag.rsplit("}", 1)[-1]: e.text for e in root.iter()}
    assert values["Username"] == "ad<min"
    assert values["Nonce"] == base64.b64encode(nonce).decode()
    assert values["Created"] == created
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"pa&ss").digest()).decode()
    assert values["Password"] == expected
    assert "pa&ss" not in header


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_parser_never_raises(data: bytes) -> None:
    for body in (data, f'<e:Envelope xmlns:e="{SOAP_ENV}"><e:Body>'.encode() + data):
        answer = soap.parse_soap(body)
        if answer is not None:
            soap.system_date_and_time(answer)
            soap.device_information(answer)


def test_device_services_keep_to_the_probed_hosts() -> None:
    xaddrs = (
        "http://10.0.0.5/onvif/device_service http://10.0.0.5:8899/onvif/device_service "
        "http://[fe80::5a50:edff:fe1f:e385]/onvif/device_service http://192.0.2.1/onvif/device_service "
        "https://10.0.0.6:443/onvif/device_service"
    )
    announced = {"10.0.0.5": tuple(xaddrs.split()), "10.0.0.6": tuple(xaddrs.split())}
    assert device_services(["10.0.0.5", "10.0.0.6"], [80], announced) == {
        "10.0.0.5": [
            "http://10.0.0.5:80/onvif/device_service",
            "http://10.0.0.5/onvif/device_service",
            "http://10.0.0.5:8899/onvif/device_service",
        ],
        "10.0.0.6": ["http://10.0.0.6:80/onvif/device_service", "https://10.0.0.6:443/onvif/device_service"],
    }


# ---------------------------------------------------------------- the probe on loopback


def hikvision_params() -> dict[str, Any]:
    dev = SimDevice("cam", "127.0.0.1", "58:50:ed:1f:e3:85", "unused", "hikvision-ipc")
    return dev.fill(dict(profiles()["hikvision-ipc"]["http"]))


async def probe(port: int, onvif_xaddrs: str = "") -> ProbeResult:
    """The probe on 127.0.0.1:``port``, with the credentials the CLI reads from the environment and the
    XAddrs 127.0.0.1 announced."""
    ctx = ProbeContext(
        targets=[IPv4Address("127.0.0.1")],
        timeout=3.0,
        options=ProbeOptions(ports={"onvif": (port,)}, onvif_credentials=onvif_credentials()),
        handoff=Handoff(onvif_xaddrs={"127.0.0.1": tuple(onvif_xaddrs.split())}),
    )
    return await OnvifProbe().run(ctx)


def run_against(params: dict[str, Any]) -> tuple[ProbeResult, int]:
    async def scenario() -> tuple[ProbeResult, int]:
        async with serving(WebApp(params).handle) as port:
            return await probe(port), port

    return asyncio.run(scenario())


def test_without_credentials_only_the_clock_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(USER_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    result, port = run_against(hikvision_params())
    values = {o.signal: o.value for o in result.observations}
    assert values.keys() == {"onvif.device_service", "onvif.datetime"}
    assert values["onvif.device_service"] == f"http://127.0.0.1:{port}/onvif/device_service"
    clock = datetime.strptime(values["onvif.datetime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - clock).total_seconds()) < 5
    assert result.status == ProbeStatus.SUCCESS
    assert any("GetDeviceInformation refused on 1 host" in n and USER_ENV in n for n in result.notes)


def test_with_credentials_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    params = hikvision_params()
    monkeypatch.setenv(USER_ENV, params["onvif_user"])
    monkeypatch.setenv(PASSWORD_ENV, params["onvif_password"])
    with caplog.at_level(logging.DEBUG):
        result, _ = run_against(params)
    values = {o.signal: o.value for o in result.observations}
    assert values["onvif.manufacturer"] == "HIKVISION"
    assert values["onvif.model"] == "DS-2CD2385G1-I"
    assert values["onvif.firmware"] == "V5.6.2 build 190701"
    assert values["onvif.serial"] == params["onvif_serial"]
    assert result.notes == []
    secret = params["onvif_password"]
    assert all(secret not in o.model_dump_json() for o in result.observations)
    assert secret not in caplog.text and secret not in " ".join(result.notes)


def test_wrong_credentials_are_refused_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(USER_ENV, "lab")
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    result, _ = run_against(hikvision_params())
    assert not any(o.signal == "onvif.manufacturer" for o in result.observations)
    assert result.notes == ["GetDeviceInformation refused on 1 host(s)"]


def test_xaddrs_on_the_same_host_are_tried_and_others_never_contacted() -> None:
    contacted: list[bytes] = []

    async def other_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        contacted.append(await reader.read(100))
        writer.close()

    async def scenario() -> tuple[ProbeResult, int]:
        async with (
            serving(WebApp({}).handle) as plain,
            serving(WebApp({"onvif": True}).handle) as onvif,
            serving(other_host, "127.0.0.2") as other,
        ):
            xaddrs = (
                f"http://127.0.0.2:{other}/onvif/device_service http://127.0.0.1:{onvif}/onvif/device_service"
            )
            return await probe(plain, onvif_xaddrs=xaddrs), onvif

    result, onvif_port = asyncio.run(scenario())
    assert ("onvif.device_service", f"http://127.0.0.1:{onvif_port}/onvif/device_service") in {
        (o.signal, o.value) for o in result.observations
    }
    assert contacted == []


def test_web_servers_without_onvif_give_no_response() -> None:
    result, _ = run_against({"server": "uc-httpd 1.0.0", "title": "NETSurveillance WEB"})
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []


def test_xml_bomb_answer_is_ignored() -> None:
    bomb = (DATA / "xml_bomb.xml").read_bytes()

    async def bomber(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(bomb), bomb))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass
        writer.close()

    result = run_served(bomber, probe)
    assert result.status == ProbeStatus.NO_RESPONSE and result.observations == []


# ---------------------------------------------------------------- where credentials may go


def recording_onvif(heard: list[tuple[str, str, bool]]) -> Any:
    """An ONVIF device service that answers the clock request with a real reply and GetDeviceInformation
    with a fault, recording (its address, the request, whether a UsernameToken came with it)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            me = writer.get_extra_info("sockname")[0]
            action = "GetSystemDateAndTime" if b"GetSystemDateAndTime" in body else "GetDeviceInformation"
            heard.append((me, action, b"UsernameToken" in body))
            name = (
                "onvif_get_system_date_and_time.xml"
                if action == "GetSystemDateAndTime"
                else "onvif_fault_not_authorized.xml"
            )
            reply = (DATA / name).read_bytes()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(reply), reply))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass
        writer.close()

    return handle


def test_credentials_go_only_to_a_target_whose_service_answered() -> None:
    heard: list[tuple[str, str, bool]] = []

    async def scenario() -> ProbeResult:
        target = await asyncio.start_server(recording_onvif(heard), "127.0.0.1", 0)
        port = target.sockets[0].getsockname()[1]
        others = [
            await asyncio.start_server(recording_onvif(heard), ip, port) for ip in ("127.0.0.2", "127.0.0.3")
        ]
        try:
            ctx = ProbeContext(
                targets=[IPv4Address("127.0.0.1")],
                # 127.0.0.2 answered multicast (heard) but is no target; 127.0.0.3 is only an XAddr
                live_hosts={"127.0.0.1": None, "127.0.0.2": None},
                timeout=3.0,
                options=ProbeOptions(
                    ports={"onvif": (port,)}, onvif_credentials=Credentials("admin", "s3cret")
                ),
                handoff=Handoff(
                    onvif_xaddrs={
                        "127.0.0.1": (f"http://127.0.0.3:{port}/onvif/device_service",),
                        "127.0.0.2": (f"http://127.0.0.3:{port}/onvif/device_service",),
                    }
                ),
            )
            return await OnvifProbe().run(ctx)
        finally:
            for server in (target, *others):
                server.close()

    result = asyncio.run(scenario())
    assert sorted(heard) == [
        ("127.0.0.1", "GetDeviceInformation", True),  # the named target, after its clock answered
        ("127.0.0.1", "GetSystemDateAndTime", False),
        ("127.0.0.2", "GetDeviceInformation", False),  # heard only: asked, but never with a token
        ("127.0.0.2", "GetSystemDateAndTime", False),
    ]  # and 127.0.0.3, an XAddr on another host, was never contacted
    assert {o.ip for o in result.observations} == {"127.0.0.1", "127.0.0.2"}
    assert result.notes == ["GetDeviceInformation refused on 2 host(s)"]


def test_no_token_where_the_clock_request_went_unanswered() -> None:
    heard: list[tuple[str, str, bool]] = []

    async def web_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heard.append(
            ("127.0.0.1", head.split(b" ")[0].decode(), b"UsernameToken" in await reader.read(65536))
        )
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def scenario() -> ProbeResult:
        async with serving(web_only) as port:
            ctx = ProbeContext(
                targets=[IPv4Address("127.0.0.1")],
                timeout=3.0,
                options=ProbeOptions(
                    ports={"onvif": (port,)}, onvif_credentials=Credentials("admin", "s3cret")
                ),
            )
            return await OnvifProbe().run(ctx)

    result = asyncio.run(scenario())
    assert heard == [("127.0.0.1", "POST", False)]  # one clock request, no GetDeviceInformation, no token
    assert result.status == ProbeStatus.NO_RESPONSE
