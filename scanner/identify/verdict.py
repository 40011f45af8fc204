"""The §889 verdict: every observation of a device -> claims about its maker -> one Verdict with evidence.

A *claim* is one observation that names a vendor: a fingerprint match, an OUI registrant or a label
(ONVIF name, UPnP manufacturer, DHIP Vendor …) naming a vendors.toml brand. Each vendor resolves to a
covered entity, or to "review" (an unverified rebrand edge or an entity row marked review), or to
"not covered". Claims from one source family (one fingerprint file, the OUI, labels) are not
independent: a family counts once, with its strongest claim.

    covered      a strong claim (certainty >= 0.9) for a covered entity, or two independent families
                 of at least medium certainty (>= 0.6) agreeing, and no strong claim against it
    likely       covered-entity claims, but only weak ones (an OUI alone, a label)
    suspected    only review paths (unverified rebrands, review rows), or covered and non-covered
                 evidence in conflict
    not-covered  the claims name a maker that is not covered
    unknown      nothing names a maker
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from scanner.identify.fingerprints import FingerprintDB, load_database, load_vendor_names
from scanner.identify.models import FAR_889, Evidence, Status, Verdict
from scanner.identify.rebrands import RebrandEdge, Rebrands, load_rebrands
from scanner.observations import PROTOCOL_FIELD_PREFIXES, Device, Observation, normalise_mac

if TYPE_CHECKING:
    from scanner.identify.entities import CoveredEntity, EntityMatch
    from scanner.identify.oui import OuiRegistry

STRONG = 0.9
MEDIUM = 0.6
CONFLICT = 0.5  # a non-covered claim this strong puts a weak covered verdict in doubt
OVERRULE = 0.85  # a non-covered claim this strong outweighs a review-only path
LABEL_CERTAINTY = 0.5  # a label naming a vendor, with no fingerprint behind it
UNVERIFIED_FACTOR = 0.5  # confidence discount of a verdict that rests on review paths
OUI_CERTAINTY = {"high": 0.6, "medium": 0.5, "low": 0.4}
CLAIMED_MAC_FACTOR = (
    0.75  # a MAC the device states about itself (no ARP entry) is weaker than one seen on the wire
)
CLAIMED_NOTE = "MAC claimed by the device in its own reply (no ARP entry): weaker than a MAC seen on the wire"
MAX_CLAIMED_MACS = 2
HISILICON = "HiSilicon"
_CANONICAL_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")

# Fields a person or an OEM writes: they name the brand on the label.
LABEL_SIGNALS = frozenset(
    {
        "onvif.name",
        "onvif.manufacturer",
        "upnp.manufacturer",
        "upnp.friendly_name",
        "dhip.Vendor",
        "dhip.Manufacturer",
        "dahua.cgi",
        "http.title",
        "mdns.instance",
        "sadp.OEMInfo",
        "wsd.scope",
    }
)
# Protocol fields that carry the device facts directly (used after fingerprint captures).
FIELD_SIGNALS = {
    "model": (
        "sadp.DeviceDescription",
        "dhip.DeviceType",
        "onvif.model",
        "onvif.hardware",
        "upnp.model_name",
    ),
    "serial": ("sadp.DeviceSN", "dhip.SerialNo", "onvif.serial", "upnp.serial"),
    "firmware": ("sadp.SoftwareVersion", "dhip.Version", "onvif.firmware"),
}

VENDOR_PROTOCOLS = PROTOCOL_FIELD_PREFIXES

Coverage = Literal["covered", "review", "not-covered"]
_COVERAGE_ORDER: dict[str, int] = {"covered": 0, "review": 1, "not-covered": 2}


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a vendor name leads: a covered entity, a review path, or a non-covered maker."""

    coverage: Coverage
    entity: str | None  # the covered entity (also for review paths)
    notes: tuple[str, ...] = ()
    related: str | None = None  # not covered, but once (or partly) the entity's: never counts against it


@dataclass(slots=True)
class _Claim:
    evidence: Evidence
    vendor: str
    brand: str | None
    family: str  # claims of one family are not independent
    resolution: Resolution
    device_type: str | None = None
    captures: dict[str, str] | None = None

    @property
    def certainty(self) -> float:
        return self.evidence.certainty


@dataclass(frozen=True)
class _Context:
    db: FingerprintDB
    rebrands: Rebrands
    vendor_keys: dict[str, str]  # label key ("cpplus") -> vendor name ("CP PLUS")
    scopes: dict[str, str]  # covered entity -> "clause: scope"
    entities: dict[str, CoveredEntity]  # entity name -> its list memberships with dates
    entity_rows: dict[str, tuple[str | None, bool | None, str | None]]  # vendor -> (entity, covered, note)


@cache
def _context() -> _Context:
    from scanner.identify.entities import covered_entities, load_entities

    rows: dict[str, tuple[str | None, bool | None, str | None]] = {}
    for org in load_entities().organizations:
        covered = None if org.covered == "review" else bool(org.covered)
        rows.setdefault(org.vendor, (org.entity, covered, org.note))
    return _Context(
        db=load_database(),
        rebrands=load_rebrands(),
        vendor_keys={_label_key(n): n for n in load_vendor_names()},
        scopes={e.name: f"{e.clause}: {e.scope}" for e in covered_entities()},
        entities={e.name: e for e in covered_entities()},
        entity_rows=rows,
    )


def identify(device: Device, *, on_date: date | None = None, hisilicon_covered: bool = False) -> Verdict:
    """The §889 verdict on ``device`` as of ``on_date`` (default today), with every evidence that counted."""
    ctx = _context()
    day = on_date or date.today()
    claims: list[_Claim] = []
    neutral: list[Evidence] = []
    notes: list[str] = []
    labels: list[str] = []  # brands named by labels and fingerprint brand fields
    macs = _macs(device)
    for mac in macs:
        _oui_claim(mac, _mac_probe(device, mac), day, hisilicon_covered, claims, neutral, notes)
    if not macs:  # routed targets, imports: no ARP entry, but the device may state its own MAC
        for mac, probe in _claimed_macs(device):
            _oui_claim(mac, probe, day, hisilicon_covered, claims, neutral, notes, claimed=True)
    best = ctx.db.best
    for obs in device.observations:
        hit = best(obs.signal, obs.value)
        label = _label_vendor(obs.signal, obs.value) if obs.signal in LABEL_SIGNALS else None
        if hit is not None:
            ev = _evidence(obs, hit.ref, hit.vendor, hit.brand, hit.certainty, hit.note)
            if hit.vendor is None:
                neutral.append(ev)
            else:
                claims.append(
                    _Claim(
                        ev,
                        hit.vendor,
                        hit.brand,
                        hit.file,
                        _resolve(hit.vendor, day, hisilicon_covered),
                        hit.device_type,
                        hit.captures,
                    )
                )
            if hit.brand:
                labels.append(hit.brand)
        elif label is not None:
            ev = _evidence(obs, f"vendors:{label}", label, None, LABEL_CERTAINTY, "a label naming a vendor")
            claims.append(_Claim(ev, label, None, "label", _resolve(label, day, hisilicon_covered)))
        if label is not None:
            labels.append(label)
    return _decide(device, claims, neutral, notes, labels, ctx, day)


# --- evidence gathering ---------------------------------------------------------------------------


def _macs(device: Device) -> list[str]:
    seen: list[str] = []
    for raw in [device.mac, *device.values("mac")]:
        if not raw:
            continue
        if _CANONICAL_MAC.fullmatch(raw) is None:
            try:
                raw = normalise_mac(raw)
            except ValueError:
                continue
        if raw not in seen:
            seen.append(raw)
    return seen


@dataclass(frozen=True, slots=True)
class _OuiFacts:
    prefix: str
    organization: str
    vendor: str | None  # the vendors.toml name the registrant identifies
    row: EntityMatch | None  # the entities.toml row it matched


def _mac_probe(device: Device, mac: str) -> str:
    """The probe that reported ``mac``: one that saw it as a ``mac`` signal, else any that carried it."""
    carriers = [o for o in device.observations if o.mac == mac]
    for o in carriers:
        if o.signal == "mac":
            return o.probe
    return carriers[0].probe if carriers else "arp"


def _claimed_macs(device: Device) -> list[tuple[str, str]]:
    """MACs the device states in its own replies (SADP/DHIP MAC fields, ONVIF ``MAC/`` scope, a
    WS-Discovery endpoint UUID): at most ``MAX_CLAIMED_MACS``, with the probe that carried each."""
    out: dict[str, str] = {}
    for o in device.observations:
        if o.signal != "claimed.mac" or len(out) >= MAX_CLAIMED_MACS:
            continue
        try:
            out.setdefault(normalise_mac(o.value), o.probe)
        except ValueError:
            continue
    return list(out.items())


def _oui_claim(
    mac: str,
    probe: str,
    day: date,
    hisilicon: bool,
    claims: list[_Claim],
    neutral: list[Evidence],
    notes: list[str],
    *,
    claimed: bool = False,
) -> None:
    facts = _oui(mac)
    if isinstance(facts, str):
        notes.append(facts)
        return
    matched = f"oui:{facts.prefix} {facts.organization}"
    signal, factor = ("claimed.mac", CLAIMED_MAC_FACTOR) if claimed else ("mac", 1.0)
    if facts.vendor is None:
        neutral.append(
            Evidence(
                probe=probe,
                signal="mac",
                value=mac,
                matched=matched,
                vendor=None,
                brand=None,
                certainty=0.0,
                supports=True,
                note="the registrant is not a known device maker (a NIC or module maker?)",
                port=None,
            )
        )
        return
    row = facts.row
    if row is not None and row.covered is True:
        resolution = Resolution("covered", row.entity, (row.note,) if row.note else ())
    elif row is not None and row.covered is None:  # review, unless a verified edge holds on ``day``
        held = _resolve(facts.vendor, day, hisilicon)
        resolution = (
            held
            if held.coverage == "covered" and held.entity == row.entity
            else Resolution("review", row.entity, (f"{row.vendor} needs review: {row.note or row.source}",))
        )
    else:  # no entity row, or one that is not covered (sold, policy-dependent): follow the edges
        resolution = _resolve(facts.vendor, day, hisilicon)
        if row is not None and row.relation.startswith("former") and resolution.coverage == "not-covered":
            # a divested company's own registration (Honor Device) is evidence against the former parent
            resolution = replace(resolution, related=None)
    row_note = f"entities.toml:{row.id}" if row else None
    ev = Evidence(
        probe=probe,
        signal=signal,
        value=mac,
        matched=matched,
        vendor=facts.vendor,
        brand=None,
        certainty=round(OUI_CERTAINTY.get(row.confidence if row else "high", 0.5) * factor, 3),
        supports=True,
        note="; ".join(filter(None, (row_note, CLAIMED_NOTE if claimed else None))) or None,
        port=None,
    )
    claims.append(_Claim(ev, facts.vendor, None, "oui", resolution))


@cache
def _registry() -> OuiRegistry:
    """The OUI registry in use (updated or shipped), resolved once per process like the other data."""
    from scanner.identify.oui import load_registry

    return load_registry()


@lru_cache(maxsize=1 << 13)
def _oui(mac: str) -> _OuiFacts | str:
    """The registrant of ``mac`` and what it names, or why there is no OUI evidence."""
    from scanner.identify.oui import is_locally_administered

    if is_locally_administered(mac):
        return f"no OUI evidence: {mac} is locally administered (randomised or virtual)"
    match = _registry().lookup(mac)
    if match is None:
        return f"no OUI evidence: {mac[:8]} is not in the IEEE registry"
    row, vendor = _organization(match.organization)
    return _OuiFacts(match.prefix, match.organization, vendor, row)


@lru_cache(maxsize=4096)
def _organization(org: str) -> tuple[EntityMatch | None, str | None]:
    """The entities.toml row an IEEE registrant matches, and the vendor it names."""
    from scanner.identify.entities import match_organization, vendor_for_organization

    row = match_organization(org)
    return row, row.vendor if row is not None else vendor_for_organization(org)


def _evidence(
    obs: Observation, matched: str, vendor: str | None, brand: str | None, certainty: float, note: str | None
) -> Evidence:
    return Evidence(
        probe=obs.probe,
        signal=obs.signal,
        value=obs.value,
        matched=matched,
        vendor=vendor,
        brand=brand,
        certainty=certainty,
        supports=True,
        note=note,
        port=obs.port,
    )


def _label_key(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


@lru_cache(maxsize=1 << 14)
def _label_vendor(signal: str, value: str) -> str | None:
    """The vendors.toml name a label starts with ('HiWatch DS-…' -> 'HiWatch', 'CP_PLUS' -> 'CP PLUS')."""
    text = value
    if signal == "wsd.scope":
        head, sep, text = value.partition("/name/")
        if not sep:
            return None
    elif signal == "dahua.cgi":
        head, sep, text = value.partition("vendor=")
        if not sep or head:
            return None
    words = _words(unquote(text[:200]))
    keys = _context().vendor_keys
    for n in (3, 2, 1):
        if len(words) >= n:
            hit = keys.get("".join(words[:n]))
            if hit is not None and len(_words(hit)) >= n:  # "Hill's MacBook" is not Hills
                return hit
    return None


def _words(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for c in text.casefold():
        if c.isalnum():
            word += c
        elif word:
            out.append(word)
            word = ""
            if len(out) == 3:
                return out
    if word:
        out.append(word)
    return out


@lru_cache(maxsize=4096)
def _resolve(vendor: str, day: date, hisilicon: bool) -> Resolution:
    """Where ``vendor`` leads on ``day``: rebrand edges that hold, then entity rows, then ended edges.

    The rebrand chains are acyclic (``Rebrands`` refuses a cycle when the data loads), so this ends.
    """
    ctx = _context()
    if vendor in ctx.scopes:  # one of the five entities
        return Resolution("covered", vendor)
    if vendor == HISILICON:
        return _hisilicon(hisilicon)
    edges = ctx.rebrands.holding(vendor, day)
    if edges:
        return _through_edges(vendor, edges, day, hisilicon)
    row = ctx.entity_rows.get(vendor)
    if row is not None and row[1] is not False:
        entity, covered, note = row
        extra = (note,) if note else ()
        return Resolution("covered", entity, extra) if covered else Resolution("review", entity, extra)
    ended = [e for e in ctx.rebrands.edges_for(vendor) if not e.negative]
    if ended:
        return _through_ended_edges(vendor, ended, day, hisilicon)
    if row is not None:
        return Resolution("not-covered", None, (row[2],) if row[2] else (), related=row[0])
    return Resolution("not-covered", None)


def _hisilicon(covered: bool) -> Resolution:
    if covered:
        return Resolution(
            "covered", "Huawei", ("HiSilicon SoC counted as Huawei equipment (hisilicon_covered policy)",)
        )
    return Resolution(
        "not-covered",
        None,
        ("HiSilicon SoC: not covered unless the hisilicon_covered policy says so",),
        related="Huawei",
    )


def _through_edges(vendor: str, edges: list[RebrandEdge], day: date, hisilicon: bool) -> Resolution:
    """Edges that hold on ``day``: a negative one clears, a verified one to a covered maker covers, the
    rest are review paths."""
    negative = [e for e in edges if e.negative]
    if negative:
        return Resolution(
            "not-covered", None, tuple(e.describe() for e in negative), related=negative[0].maker
        )
    notes = tuple(e.describe() for e in edges)
    for edge in edges:
        up = _resolve(edge.maker or vendor, day, hisilicon)
        if up.coverage == "covered" and edge.verified:
            return Resolution("covered", up.entity, notes + up.notes)
    up = _resolve(edges[0].maker or vendor, day, hisilicon)
    return Resolution("review", up.entity, notes + up.notes)


def _through_ended_edges(vendor: str, ended: list[RebrandEdge], day: date, hisilicon: bool) -> Resolution:
    """Edges that no longer (or not yet) hold: a once-covered maker makes a review, never a clearance."""
    up = _resolve(ended[0].maker or vendor, day, hisilicon)
    notes = tuple(e.describe() for e in ended)
    if ended[0].verified and up.coverage == "covered":
        # e.g. Lorex after Dahua sold it: units from the ownership years are the maker's hardware,
        # and a name alone cannot tell them apart: a review, never a clearance.
        return Resolution(
            "review",
            up.entity,
            (
                *notes,
                f"units from before the ownership change are "
                f"{ended[0].maker}-built: the firmware (SADP/DHIP/banners) tells",
            ),
        )
    return Resolution("not-covered", None, notes, related=up.entity)


# --- the decision ---------------------------------------------------------------------------------


def _family_score(claims: list[_Claim]) -> tuple[float, int, float]:
    """(noisy-OR over families of each family's best certainty, families >= MEDIUM, best certainty)."""
    best: dict[str, float] = {}
    for c in claims:
        if c.certainty > best.get(c.family, -1.0):
            best[c.family] = c.certainty
    miss = 1.0
    for v in best.values():
        miss *= 1.0 - v
    return 1.0 - miss, sum(1 for v in best.values() if v >= MEDIUM), max(best.values(), default=0.0)


@dataclass(slots=True)
class _Split:
    """The claims of one device sorted by where their vendor leads."""

    by_entity: dict[str, list[_Claim]]  # covered entity -> claims resolved to it
    review: list[_Claim]  # unverified rebrand edges, entity rows marked review
    not_covered: list[_Claim]  # makers that are not covered (look-alikes, divested brands, others)

    @classmethod
    def of(cls, claims: list[_Claim]) -> _Split:
        by_entity: dict[str, list[_Claim]] = {}
        for c in claims:
            if c.resolution.coverage == "covered" and c.resolution.entity:
                by_entity.setdefault(c.resolution.entity, []).append(c)
        return cls(
            by_entity,
            [c for c in claims if c.resolution.coverage == "review"],
            [c for c in claims if c.resolution.coverage == "not-covered"],
        )


@dataclass(slots=True)
class _Decision:
    status: Status
    entity: str | None = None
    support: list[_Claim] = field(default_factory=list)
    confidence: float = 0.0


def _decide(
    device: Device,
    claims: list[_Claim],
    neutral: list[Evidence],
    notes: list[str],
    labels: list[str],
    ctx: _Context,
    day: date,
) -> Verdict:
    """One path per kind of evidence: claims for a covered entity (vendor-protocol replies, banner
    fingerprints, OUI), then review paths (rebrands), then evidence against (look-alikes), else unknown.
    The status answers FAR 52.204-25 on ``day``: an entity only on other lists (or not yet on it) is
    "not covered", and its lists are reported beside the status."""
    split = _Split.of(claims)
    if split.by_entity:
        decision = _covered_path(split, notes)
    elif split.review:
        decision = _review_path(split)
    elif split.not_covered:
        decision = _Decision(Status.NOT_COVERED)
    else:
        decision = _Decision(Status.UNKNOWN)
    if decision.status is Status.NOT_COVERED:
        decision = _against_path(split)
    listed = ctx.entities.get(decision.entity or "")
    lists = [m.list for m in listed.lists_on(day)] if listed is not None else []
    if listed is not None and FAR_889 not in lists:
        notes.append(_off_far_889(listed, lists, day))
        decision = _Decision(Status.NOT_COVERED, None, decision.support, decision.confidence)
    verdict = _build(
        device,
        decision.status,
        decision.entity,
        decision.support,
        claims,
        neutral,
        notes,
        labels,
        decision.confidence,
        ctx,
    )
    verdict.lists = lists
    return verdict


def _off_far_889(entity: CoveredEntity, lists: list[str], day: date) -> str:
    """Why an entity's device is not covered by FAR 52.204-25 on ``day``, and what it is on instead."""
    far = next((m for m in entity.lists if m.list == FAR_889), None)
    text = f"{entity.name} is not on FAR 52.204-25 on {day.isoformat()}"
    if far is not None:
        text += f" (from {far.since})"
    on = [f"{m.list} since {m.since}" for m in entity.lists_on(day)]
    return text + (f"; on {', '.join(on)}" if on else "")


def _covered_path(split: _Split, notes: list[str]) -> _Decision:
    """Claims resolve to a covered entity: covered when strong, likely when weak, suspected in conflict."""
    scores = {e: _family_score(cs) for e, cs in split.by_entity.items()}
    entity = max(sorted(scores), key=lambda e: scores[e])  # ties: by name, not observation order
    score, medium, top = scores[entity]
    related = [c for c in split.not_covered if c.resolution.related == entity]
    against = [c for c in split.not_covered if c.resolution.related != entity]
    against_max = max((c.certainty for c in against), default=0.0)
    support = split.by_entity[entity] + [c for c in split.review if c.resolution.entity == entity] + related
    strong = top >= STRONG or medium >= 2
    if strong and against_max < STRONG:
        decision = _Decision(Status.COVERED, entity, support, score)
    elif not strong and against_max < CONFLICT:
        decision = _Decision(Status.LIKELY, entity, support, score)
    else:
        decision = _Decision(Status.SUSPECTED, entity, support, score * (1.0 - against_max))
        notes.append("conflicting evidence: " + _conflict(split.by_entity[entity], against))
    others = [e for e in split.by_entity if e != entity]
    if others:
        notes.append(f"conflicting evidence: also points at {', '.join(sorted(others))}")
    return decision


def _review_path(split: _Split) -> _Decision:
    """Only review paths (unverified rebrands, review rows): suspected, unless strong evidence against
    outweighs them."""
    against_max = max((c.certainty for c in split.not_covered), default=0.0)
    if against_max >= OVERRULE and against_max > max(c.certainty for c in split.review):
        return _Decision(Status.NOT_COVERED)
    entity = max(split.review, key=lambda c: c.certainty).resolution.entity
    support = [c for c in split.review if c.resolution.entity == entity]
    confidence = _family_score(support)[0] * UNVERIFIED_FACTOR
    support += [c for c in split.not_covered if c.resolution.related == entity]
    return _Decision(Status.SUSPECTED, entity, support, confidence)


def _against_path(split: _Split) -> _Decision:
    """Not covered: the strongest non-covered maker (a look-alike, a divested brand, anyone else)."""
    top_vendor = max(split.not_covered, key=lambda c: c.certainty).vendor
    support = [c for c in split.not_covered if c.vendor == top_vendor]
    return _Decision(Status.NOT_COVERED, None, support, _family_score(support)[0])


def _conflict(covered: list[_Claim], against: list[_Claim]) -> str:
    one = max(covered, key=lambda c: c.certainty)
    other = max(against, key=lambda c: c.certainty)
    return f"{one.evidence.matched} says {one.vendor}, {other.evidence.matched} says {other.vendor}"


def _build(
    device: Device,
    status: Status,
    entity: str | None,
    support: list[_Claim],
    claims: list[_Claim],
    neutral: list[Evidence],
    notes: list[str],
    labels: list[str],
    confidence: float,
    ctx: _Context,
) -> Verdict:
    # The maker is who the protocols say: claims resolved to the entity outrank labels and review paths.
    ranked = sorted(support, key=lambda c: (_COVERAGE_ORDER[c.resolution.coverage], -c.certainty))
    supporting = {id(c) for c in support}
    evidence = []
    for c in claims:
        if id(c) not in supporting and status is not Status.UNKNOWN:
            c.evidence.supports = False
        evidence.append(c.evidence)
    evidence += neutral
    vendor = ranked[0].vendor if ranked else None
    brand = _brand(vendor, ranked, labels)
    for c in ranked:
        notes.extend(c.resolution.notes)
        if c.evidence.note and c.family != "label" and not c.evidence.note.startswith("entities.toml:"):
            notes.append(c.evidence.note)
    if brand:
        notes.append(f"labelled {brand}: rebrand of {vendor}")
    fields = _device_fields(device, ranked)
    return Verdict(
        status=status,
        confidence=round(min(confidence, 1.0), 3),
        vendor=vendor,
        brand=brand,
        covered_entity=entity,
        scope=ctx.scopes.get(entity) if entity else None,
        device_type=next((c.device_type for c in ranked if c.device_type), None),
        model=fields["model"],
        serial=fields["serial"],
        firmware=fields["firmware"],
        brand_mismatch=brand is not None,
        waived=False,
        waiver=None,
        evidence=evidence,
        notes=list(dict.fromkeys(notes)),
    )


def _brand(maker: str | None, ranked: list[_Claim], labels: list[str]) -> str | None:
    """The label brand when it is not the maker: label fields first, then other supporting vendors."""
    if maker is None:
        return None
    for name in [*labels, *(c.vendor for c in ranked)]:
        if name != maker:
            return name
    return None


def _device_fields(device: Device, ranked: list[_Claim]) -> dict[str, str | None]:
    """Model, serial and firmware: what the vendor discovery protocols (SADP, DHIP) state first, then
    fingerprint captures strongest first, then the other protocol fields."""
    out: dict[str, str | None] = {}
    for name, signals in FIELD_SIGNALS.items():
        value = next(
            (
                o.value.strip()
                for s in signals
                if s.startswith(VENDOR_PROTOCOLS)
                for o in device.observations
                if o.signal == s and o.value.strip()
            ),
            None,
        )
        if value is None:
            value = next((c.captures[name] for c in ranked if c.captures and name in c.captures), None)
        if value is None:
            value = next(
                (
                    o.value.strip()
                    for s in signals
                    for o in device.observations
                    if o.signal == s and o.value.strip()
                ),
                None,
            )
        out[name] = value
    return out
