"""Banner probes on a ~240-device lab, and GET / with httpx vs our own asyncio HTTP client.

    sudo .venv/bin/python benchmarks/bench_banners.py [--devices 240] [--runs 5] [--loss 20%] [--telecom]

Why the HTTP client is our own code: this is the measurement behind that choice. Needs httpx only for
the comparison (pip install httpx). ``--loss`` puts every device link behind that frame loss (the lab's
userspace switch; needs a lab spec with ``loss``) to see how many hosts each probe still reads.
``--telecom`` splits the devices with gear that answers only SSH/telnet/FTP greetings or SIP OPTIONS.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from ipaddress import IPv4Address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scanner.discovery.base import ProbeContext  # noqa: E402
from scanner.discovery.greeting import GreetingProbe  # noqa: E402
from scanner.discovery.http import HttpProbe  # noqa: E402
from scanner.discovery.http_client import fetch  # noqa: E402
from scanner.discovery.onvif import OnvifProbe  # noqa: E402
from scanner.discovery.rtsp import RtspProbe  # noqa: E402
from scanner.discovery.sip import SipProbe  # noqa: E402
from scanner.discovery.tls import TlsProbe  # noqa: E402
from scanner.lab.manager import lab_down, lab_up  # noqa: E402
from scanner.lab.netns import run_in_netns  # noqa: E402
from scanner.lab.spec import parse_lab, render_lab  # noqa: E402

PROFILES = [
    ("hw", "00:09:18", "hanwha-ipc"),
    ("bo", "00:04:63", "bosch-ipc"),
    ("xm", "00:12:41", "xiongmai-dvr"),
    ("zt", "00:15:eb", "zte-router"),
]
TELECOM = [  # locally administered MACs: only the greetings and SIP say who made them
    ("vr", "02:00:01", "huawei-vrp-router"),
    ("on", "02:00:02", "zte-ont"),
    ("dv", "02:00:03", "hikvision-dvr-telnet"),
    ("hs", "02:00:04", "huawei-ont-sip"),
    ("zs", "02:00:05", "zte-ont-sip"),
]


def measure(targets: list[str]) -> dict[str, tuple[float, int]]:
    out: dict[str, tuple[float, int]] = {}

    async def go() -> None:
        for label, probe in (
            ("http probe", HttpProbe()),
            ("rtsp probe", RtspProbe()),
            ("tls probe", TlsProbe()),
            ("onvif probe", OnvifProbe()),
            ("greeting probe", GreetingProbe()),
            ("sip probe", SipProbe()),
        ):
            ctx = ProbeContext(targets=[IPv4Address(t) for t in targets], timeout=10)
            t = time.monotonic()
            result = await probe.run(ctx)
            out[label] = (time.monotonic() - t, len({o.ip for o in result.observations}))
        try:
            import httpx
        except ImportError:
            httpx = None
        if httpx is not None:
            t = time.monotonic()
            async with httpx.AsyncClient(trust_env=False, limits=httpx.Limits(max_connections=512)) as client:

                async def one(ip: str) -> bool:
                    try:
                        await client.get(f"http://{ip}:80/", timeout=2)
                        return True
                    except Exception:  # noqa: BLE001 - counted as not answered
                        return False

                got = await asyncio.gather(*(one(ip) for ip in targets))
            out["GET / with httpx"] = (time.monotonic() - t, sum(got))
        t = time.monotonic()
        fetched = await asyncio.gather(*(fetch(f"http://{ip}:80/", 256 * 1024) for ip in targets))
        out["GET / with our client"] = (time.monotonic() - t, sum(1 for f in fetched if f))

    asyncio.run(go())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=240)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loss", default=None, help="frame loss on every device link, e.g. 20%%")
    ap.add_argument("--telecom", action="store_true", help="add SSH/telnet/FTP and SIP-only telecom gear")
    args = ap.parse_args()
    profiles = PROFILES + TELECOM if args.telecom else PROFILES
    per = args.devices // len(profiles)
    groups = [
        {"name": n, "count": per, "start_ip": f"10.99.0.{10 + i * per}", "ouis": [oui], "profile": prof}
        for i, (n, oui, prof) in enumerate(profiles)
    ]
    name = "tb" + secrets.token_hex(3)
    raw = {
        "lab": {"name": name, "subnet": "10.99.0.0/24", "scanner_ip": "10.99.0.2"},
        "device": [],
        "group": groups,
    }
    if args.loss:
        raw["lab"].update(loss=args.loss, delay="0ms", jitter="0ms", switch="userspace")
    spec = parse_lab(raw)
    path = Path(tempfile.mkdtemp()) / f"{name}.toml"
    path.write_text(render_lab(raw))
    runs: dict[str, list[tuple[float, int]]] = {}
    lab_up(spec, path)
    try:
        targets = [d.ip for d in spec.devices]
        for _ in range(args.runs):
            for label, value in run_in_netns(spec.scanner_ns, measure, targets).items():
                runs.setdefault(label, []).append(value)
    finally:
        lab_down(name)
    print(
        f"{len(spec.devices)} devices, {args.runs} runs (median wall time, hosts answering in the worst run):"
    )
    for label, values in runs.items():
        print(
            f"  {label:24} {statistics.median(v[0] for v in values):6.3f} s   {min(v[1] for v in values)} hosts"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
