"""The SNMP walker against hostile agents on loopback, credentials from the environment, agent syntax.

The hostile agents are ours (the project's own BER codec answers pysnmp's requests): garbage, OIDs that
loop, a table without end, silence after the first answer. Every one ends as a note on that agent, within
the time and row bounds, never as an exception."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from clirun import assert_usage_error, run_cli

from scanner.cli.collect_cmd import snmp_auth
from scanner.collect.snmp_walk import SnmpAuth, WalkLimits, collect, parse_agent
from scanner.discovery.parsers import snmp as ber
from scanner.errors import UsageError

SYS = {
    "1.3.6.1.2.1.1.1.0": (ber.OCTET_STRING, b"hostile agent"),
    "1.3.6.1.2.1.1.2.0": (ber.OID, "1.3.6.1.4.1.8072.3.2.10"),  # net-snmp's own
    "1.3.6.1.2.1.1.5.0": (ber.OCTET_STRING, b"evil"),
}
GET_BULK = 0xA5


def _reply(msg: ber.Message, binds: list[ber.VarBind]) -> bytes:
    return ber.encode_message(
        ber.Message(msg.version, msg.community, ber.GET_RESPONSE, msg.request_id, 0, 0, tuple(binds))
    )


def _answer(mode: str, data: bytes, state: dict[str, int]) -> bytes | None:
    msg = ber.parse_message(data)
    if msg is None:
        return None
    if mode == "garbage":
        return b"\x30\x84\xff\xff\xff\xff" + data[:40]
    if msg.pdu_type == ber.GET_REQUEST:
        return _reply(
            msg, [ber.VarBind(b.oid, *SYS.get(b.oid, (ber.NO_SUCH_OBJECT, None))) for b in msg.varbinds]
        )
    if msg.pdu_type != GET_BULK or mode == "silent-after-get":
        return None
    asked = msg.varbinds[0].oid
    reps = max(1, min(msg.error_index, 40))
    if mode == "loop":  # always the same row: the OID never increases
        return _reply(msg, [ber.VarBind(asked + ".1", ber.INTEGER, 1)] * reps)
    if mode == "endless":  # every table goes on for ever
        state["n"] = state.get("n", 0) + reps
        return _reply(msg, [ber.VarBind(f"{asked}.{i}", ber.INTEGER, i) for i in range(1, reps + 1)])
    if mode == "bad-rows":  # FDB and ARP rows whose indexes and MACs are malformed, then the end
        if asked.count(".") > 14:
            return _reply(msg, [ber.VarBind(asked, ber.END_OF_MIB_VIEW, None)])
        return _reply(
            msg,
            [
                ber.VarBind(asked + ".2.1.2.3", ber.INTEGER, 7),
                ber.VarBind(asked + ".4.1.1.4.10.0.0.1", ber.OCTET_STRING, b"\x01\x02"),
                ber.VarBind(asked + ".5.9.9.9.9.9.9.9.9.9.9.9", ber.OCTET_STRING, b"\xff" * 3000),
            ],
        )
    return None


@contextlib.contextmanager
def hostile_agent(
    mode: str, bulk_asked: threading.Event | None = None, flip: random.Random | None = None
) -> Iterator[int]:
    """A UDP agent on 127.0.0.1 answering in ``mode``; yields its port. ``bulk_asked`` is set at the
    first GETBULK (the walks have begun); with ``flip``, one to six random bytes of every reply are
    changed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()
    state: dict[str, int] = {}

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            msg = ber.parse_message(data)
            if bulk_asked is not None and msg is not None and msg.pdu_type == GET_BULK:
                bulk_asked.set()
            out = _answer(mode, data, state)
            if out is not None and flip is not None:
                mutated = bytearray(out)
                for _ in range(flip.randint(1, 6)):
                    mutated[flip.randrange(len(mutated))] = flip.randrange(256)
                out = bytes(mutated)
            if out is not None:
                sock.sendto(out, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def _collect(port: int, **limits: float) -> tuple[object, float]:
    lim = WalkLimits(timeout=0.3, retries=0, **limits)  # type: ignore[arg-type]
    started = time.monotonic()
    [result] = asyncio.run(collect([("127.0.0.1", port)], SnmpAuth(community="hostile"), lim))
    return result, time.monotonic() - started


def test_garbage_replies_are_no_answer() -> None:
    with hostile_agent("garbage") as port:
        result, seconds = _collect(port)
    assert not result.answered and result.errors and "no answer" in result.errors[0]
    assert seconds < 5


def test_looping_oids_end_each_walk_with_a_note() -> None:
    with hostile_agent("loop") as port:
        result, seconds = _collect(port)
    assert result.answered and result.tables.sys_name == "evil"
    assert result.errors and all("OID not increasing" in e for e in result.errors)
    assert seconds < 10


def test_a_table_without_end_stops_at_max_rows() -> None:
    with hostile_agent("endless") as port:
        result, _ = _collect(port, max_rows=200)
    assert result.rows and max(result.rows.values()) <= 200
    assert any("stopped after 200 rows" in e for e in result.errors)


def test_an_agent_that_goes_silent_is_bounded_by_its_budget() -> None:
    with hostile_agent("silent-after-get") as port:
        result, seconds = _collect(port, agent_budget=1.5)
    assert result.answered and any("out of time" in e for e in result.errors)
    assert seconds < 4


@pytest.mark.parametrize("mode", ["bad-rows", "endless", "loop"])
def test_randomly_corrupted_replies_end_as_notes(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    for seed in range(4):
        with hostile_agent(mode, flip=random.Random(seed)) as port:
            result, seconds = _collect(port, max_rows=300, agent_budget=5)
        assert seconds < 8
        # whatever got through parses to well-formed rows only
        assert all(len(e.mac) == 17 and e.port >= 0 for e in result.tables.fdb)
        assert all(a.ip.count(".") == 3 or ":" in a.ip for a in result.tables.arp)
    assert not [r for r in caplog.records if r.name == "asyncio"], (
        caplog.text
    )  # nothing escaped into the loop


def test_malformed_rows_are_skipped_and_counted() -> None:
    with hostile_agent("bad-rows") as port:
        result, _ = _collect(port)
    assert result.answered and result.tables.arp == [] and result.tables.fdb == []
    assert result.tables.skipped >= 1


@pytest.mark.parametrize("credentials", ["v2c", "v3"])
def test_cli_against_a_hostile_agent_reports_and_exits_3_without_traceback(credentials: str) -> None:
    v3 = {"NDAA_SNMP_USER": "u1", "NDAA_SNMP_AUTH_KEY": "s3cr3t-auth", "NDAA_SNMP_PRIV_KEY": "s3cr3t-priv"}
    with hostile_agent("loop") as port:
        proc = run_cli(
            "collect", "snmp", f"127.0.0.1:{port}", "-c", "s3cr3t-community", "--timeout", "0.3",
            "--no-history", "-vv", "-f", "json",
            env=v3 if credentials == "v3" else {"NDAA_SNMP_USER": ""},
        )  # fmt: skip
    assert (
        "Traceback" not in proc.stderr and "s3cr3t" not in proc.stderr + proc.stdout
    )  # never logged, even -vv
    assert proc.returncode == 3, proc.stderr
    if credentials == "v3":  # our agent speaks v2c only: a v3 user gets no answer it accepts
        assert json.loads(proc.stdout)["probes"][0]["status"] == "no-response"
        return
    report = json.loads(proc.stdout)
    assert report["complete"] is False and [p["status"] for p in report["probes"]] == ["partial"]
    assert "OID not increasing" in report["probes"][0]["error"]


def test_v3_from_the_environment_and_its_levels() -> None:
    env = {"NDAA_SNMP_USER": "audit", "NDAA_SNMP_AUTH_KEY": "authkey123", "NDAA_SNMP_PRIV_KEY": "privkey123"}
    auth = snmp_auth(None, env)
    assert auth.v3 is not None and auth.v3.level == "authPriv" and auth.v3.auth_protocol == "sha"
    assert "authkey123" not in repr(auth) and "privkey123" not in repr(auth)
    assert snmp_auth(None, {"NDAA_SNMP_USER": "audit"}).v3.level == "noAuthNoPriv"  # type: ignore[union-attr]
    both = snmp_auth("public", {**env, "NDAA_SNMP_AUTH_PROTOCOL": "SHA256"})
    assert both.v3 is not None and both.v3.auth_protocol == "sha256" and both.community is None
    assert "public" not in repr(SnmpAuth(community="public"))
    for bad, needle in (
        ({"NDAA_SNMP_USER": "a", "NDAA_SNMP_PRIV_KEY": "privkey123"}, "needs NDAA_SNMP_AUTH_KEY"),
        ({**env, "NDAA_SNMP_AUTH_PROTOCOL": "sha1024"}, "NDAA_SNMP_AUTH_PROTOCOL"),
        ({**env, "NDAA_SNMP_PRIV_PROTOCOL": "rot13"}, "NDAA_SNMP_PRIV_PROTOCOL"),
        ({**env, "NDAA_SNMP_AUTH_KEY": "short"}, "at least 8"),
        ({}, "no SNMP credentials"),
    ):
        with pytest.raises(UsageError, match=needle):
            snmp_auth(None, bad)


def test_agent_syntax() -> None:
    assert parse_agent("10.0.0.1") == ("10.0.0.1", 161)
    assert parse_agent("core-sw:1161") == ("core-sw", 1161)
    for bad in ("", ":161", "10.0.0.1:0", "10.0.0.1:99999", "10.0.0.1:x", "a b"):
        with pytest.raises(ValueError):
            parse_agent(bad)


def test_cli_usage_errors_before_anything_is_sent() -> None:
    env = {"NDAA_SNMP_COMMUNITY": "", "NDAA_SNMP_USER": ""}
    assert_usage_error(run_cli("collect", "snmp", "10.0.0.1", "--no-history", env=env), "no SNMP credentials")
    assert_usage_error(
        run_cli("collect", "snmp", "10.0.0.1:70000", "-c", "x", "--no-history", env=env), "HOST:PORT"
    )
    assert_usage_error(
        run_cli("collect", "snmp", "10.0.0.1", "-c", "x", "-o", "json=/nonexistent/dir/r.json", env=env),
        "cannot write report",
    )


def test_ctrl_c_during_the_walks_writes_the_partial_report() -> None:
    import os
    import signal
    import subprocess

    from clirun import scanner_command
    from paths import REPO

    walking = threading.Event()
    with hostile_agent("silent-after-get", walking) as port:
        proc = subprocess.Popen(
            scanner_command(
                "collect", "snmp", f"127.0.0.1:{port}", "-c", "x", "--timeout", "5", "--no-history", "-q",
                "-f", "json",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        try:
            assert walking.wait(60), "the collector never began its walks"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 3, err
    assert "interrupted: partial report written" in err and "Traceback" not in err
    report = json.loads(out)
    assert report["complete"] is False
    assert any("interrupted" in n for n in report["notes"])
    # what the agent said before the interruption is kept: its system group
    [agent] = report["devices"]
    assert agent["ip"] == "127.0.0.1" and agent["hostnames"] == ["evil"]


def test_agents_are_walked_together_and_reported_in_their_order() -> None:
    with hostile_agent("garbage") as bad, hostile_agent("bad-rows") as odd:
        results = asyncio.run(
            collect(
                [("127.0.0.1", bad), ("127.0.0.1", odd)],
                SnmpAuth(community="x"),
                WalkLimits(timeout=1.0, retries=0),
            )
        )
    assert [(r.port, r.answered) for r in results] == [(bad, False), (odd, True)]
    assert results[1].tables.skipped >= 1 and not results[0].tables.skipped
