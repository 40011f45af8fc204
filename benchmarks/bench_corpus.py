"""Recall and false alarms of the whole identification (fingerprints + OUI-free verdict) on a public,
vendor-labelled banner corpus: Rapid7 recog's XML examples.

Every recog ``<example>`` is a real string its maintainers labelled with the maker (``hw.vendor``, else
``os.vendor``, else ``service.vendor``). Each becomes a one-observation device on the signal the project
uses for that recog file, and goes through ``identify()``. Printed per vendor:

- for the §889 makers (Huawei, ZTE, Hikvision, Dahua, Hytera): how many of their strings come out
  covered or likely for that entity (recall);
- for everyone else: how many come out covered or likely for any entity (false alarms), with the
  strings, so each can be judged (a string naming a Huawei product under another label is listed,
  not hidden). Labels that are known rebrands of a covered maker (fingerprints/rebrands.toml) are
  counted apart: flagging them is the point.

    git clone https://github.com/rapid7/recog /tmp/recog    # the figures in docs/ were on 14fa1a72
    python benchmarks/bench_corpus.py --recog /tmp/recog
    python benchmarks/bench_corpus.py --recog /tmp/recog --show-misses
"""

from __future__ import annotations

import argparse
import base64
import sys
from collections import Counter, defaultdict
from pathlib import Path

from defusedxml import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.identify.models import Status  # noqa: E402
from scanner.identify.rebrands import load_rebrands  # noqa: E402
from scanner.identify.verdict import identify  # noqa: E402
from scanner.observations import MAX_VALUE_LEN, Device, Observation  # noqa: E402

# recog file -> the signal the project gives that field
SIGNAL_OF = {
    "http_servers.xml": "http.server",
    "http_wwwauth.xml": "http.www_authenticate",
    "html_title.xml": "http.title",
    "ssh_banners.xml": "ssh.banner",
    "snmp_sysdescr.xml": "snmp.sys_descr",
    "snmp_sysobjid.xml": "snmp.sys_object_id",
    "sip_user_agents.xml": "sip.user_agent",
    "sip_banners.xml": "sip.user_agent",
    "telnet_banners.xml": "telnet.banner",
    "ftp_banners.xml": "ftp.banner",
    "rtsp_servers.xml": "rtsp.server",
    "x509_subjects.xml": "x509.subject",
    "x509_issuers.xml": "x509.issuer",
    "mdns_device-info_txt.xml": "mdns.txt",
    "favicons.xml": "http.favicon.md5",
}
COVERED = {"huawei": "Huawei", "zte": "ZTE", "hikvision": "Hikvision", "dahua": "Dahua", "hytera": "Hytera"}
FLAGGED = (Status.COVERED, Status.LIKELY)


def _label(fp: object) -> str | None:
    params = {p.get("name"): p.get("value") for p in fp.findall("param")}  # type: ignore[attr-defined]
    for key in ("hw.vendor", "os.vendor", "service.vendor"):
        if params.get(key) and "{" not in params[key]:
            return str(params[key])
    return None


def _text(example: object) -> str | None:
    raw = example.text or ""  # type: ignore[attr-defined]
    if example.get("_encoding") == "base64":  # type: ignore[attr-defined]
        try:
            raw = base64.b64decode(raw).decode("utf-8", "replace")
        except ValueError:
            return None
    lines = [line.strip() for line in raw.strip().splitlines()]
    text = "\r\n".join(line for line in lines if line) if len(lines) > 1 else raw.strip()
    return text[:MAX_VALUE_LEN] or None


def corpus(recog: Path) -> list[tuple[str, str, str, str]]:
    """(file, signal, vendor label, example) for every labelled recog example the project has a signal for."""
    out = []
    for name, signal in SIGNAL_OF.items():
        path = recog / "xml" / name
        if not path.exists():
            continue
        root = ElementTree.parse(path).getroot()
        for fp in root.iter("fingerprint"):
            label = _label(fp)
            if label is None:
                continue
            for example in fp.findall("example"):
                text = _text(example)
                if text:
                    out.append((name, signal, label, text))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recog", type=Path, required=True, help="a checkout of rapid7/recog")
    ap.add_argument("--show-misses", action="store_true", help="list the §889 makers' strings not flagged")
    args = ap.parse_args()
    if not (args.recog / "xml").is_dir():
        print(
            f"bench_corpus: {args.recog}/xml is not a directory (clone rapid7/recog first)", file=sys.stderr
        )
        return 2
    rebrand_labels = {edge.brand.lower() for edge in load_rebrands().edges if not edge.negative}
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    alarms: list[tuple[str, str, str, str]] = []
    rebranded: Counter[str] = Counter()
    others = 0
    for name, signal, label, text in corpus(args.recog):
        verdict = identify(
            Device(
                ip="192.0.2.1",
                observations=[Observation(signal=signal, value=text, probe="corpus", ip="192.0.2.1")],
            )
        )
        entity = COVERED.get(label.lower())
        flagged = verdict.status in FLAGGED
        if entity is not None:
            totals[entity] += 1
            if flagged and verdict.covered_entity == entity:
                hits[entity] += 1
            else:
                misses[entity].append(f"{name}: {text[:110]!r} -> {verdict.status.value}")
        elif label.lower() in rebrand_labels or label.lower().startswith(("huawei", "hisilicon")):
            rebranded[f"{label} -> {verdict.status.value}"] += 1
        else:
            others += 1
            if flagged:
                alarms.append((label, name, text, f"{verdict.status.value} {verdict.covered_entity}"))
    print(
        f"recog examples with a vendor label and a project signal: {sum(totals.values()) + others + sum(rebranded.values())}"
    )
    print("\n§889 makers' strings flagged covered/likely for the right entity:")
    for entity in sorted(totals):
        print(
            f"  {entity:<10} {hits[entity]:>4} / {totals[entity]:<4} {100 * hits[entity] / totals[entity]:5.1f} %"
        )
    all_hits, all_total = sum(hits.values()), sum(totals.values())
    print(f"  {'all':<10} {all_hits:>4} / {all_total:<4} {100 * all_hits / max(all_total, 1):5.1f} %")
    print(f"\nother makers' strings: {others}; flagged covered/likely (false alarms): {len(alarms)}")
    by_vendor = Counter(label for label, *_ in alarms)
    for label, count in by_vendor.most_common():
        print(f"  {label}: {count}")
    for label, name, text, got in alarms:
        print(f"    {label} {name}: {text[:100]!r} -> {got}")
    if rebranded:
        print("\nlabels that are rebrands or former parts of a covered maker (not counted above):")
        for key, count in sorted(rebranded.items()):
            print(f"  {key}: {count}")
    if args.show_misses:
        for entity, lines in sorted(misses.items()):
            print(f"\nnot flagged, {entity}:")
            for line in lines:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
