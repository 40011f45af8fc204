"""The HTML report: static checks with html.parser, then the real page in headless Chromium.

The Chromium tests skip when no chromium binary is installed, except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import body_attr, dump_dom, require_chromium, run_chromium, statuses
from report_fixtures import SAMPLE_STATUS_ORDER, sample_report

from scanner.report import render


class _Page(HTMLParser):
    """Collects what the checks need: tags with attributes, inline script/style text, device bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._raw: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._raw = self.scripts if tag == "script" else self.styles
            self._raw.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._raw = None

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self._raw[-1] += data

    def device_bodies(self) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == "tbody" and "device" in (a.get("class") or "").split()]


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.fixture(scope="module")
def html_text() -> str:
    return render(sample_report(), "html")


def test_self_contained_with_csp_pinning_its_own_script_and_style(html_text: str) -> None:
    page = _Page()
    page.feed(html_text)
    assert len(page.scripts) == 1 and len(page.styles) == 1
    csp = next(
        a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None and "default-src 'none'" in csp
    assert f"script-src {_sha(page.scripts[0])}" in csp and f"style-src {_sha(page.styles[0])}" in csp
    assert not [t for t, _ in page.tags if t in ("link", "img", "iframe", "object", "embed")]
    assert not [a for _, a in page.tags for k, v in a.items() if k in ("src", "href") and v]
    assert not [k for _, a in page.tags for k in a if k.startswith("on")]
    assert "@media print" in page.styles[0]


def test_devices_covered_first_and_hostile_text_escaped(html_text: str) -> None:
    page = _Page()
    page.feed(html_text)
    assert [b["data-status"] for b in page.device_bodies()] == SAMPLE_STATUS_ORDER
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text and "<script>alert" not in html_text
    assert "&lt;img src=x onerror=&quot;document" in html_text
    assert html_text.count("<details>") == 7 and html_text.count("<summary>") == 7
    assert 'data-filter="covered"><b>2</b>Covered' in html_text


# --- headless Chromium ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory, html_text: str) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html_text, encoding="utf-8")
    return path


def test_script_runs_counts_devices_and_injected_code_does_not(
    chromium: str, page_file: Path, tmp_path: Path
) -> None:
    dom = dump_dom(chromium, tmp_path, page_file)
    assert body_attr(dom, "data-device-count") == "7" and body_attr(dom, "data-visible-count") == "7"
    assert len(statuses(dom)) == 7
    assert "data-pwned" not in dom.split("<body")[0]  # the onerror payload never ran
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the banner is a text node
    assert "Showing 7 of 7 devices" in dom


def test_the_pwned_marker_would_catch_injected_code(chromium: str, tmp_path: Path) -> None:
    """Control: the same payload, unescaped and without our CSP, does run and set the marker."""
    from report_fixtures import HOSTILE_HTML

    raw = tmp_path / "raw.html"
    raw.write_text(f"<!DOCTYPE html><html><body>{HOSTILE_HTML}</body></html>", encoding="utf-8")
    assert 'data-pwned="1"' in dump_dom(chromium, tmp_path, raw)


def test_filter_and_sort_from_the_link(chromium: str, page_file: Path, tmp_path: Path) -> None:
    flagged = dump_dom(chromium, tmp_path, page_file, "#status=flagged")
    assert body_attr(flagged, "data-visible-count") == "5"
    assert statuses(flagged, visible_only=True) == ["covered", "covered", "likely", "likely", "suspected"]
    text = dump_dom(chromium, tmp_path, page_file, "#q=axis%20m1014")
    assert statuses(text, visible_only=True) == ["not-covered"]
    by_conf = dump_dom(chromium, tmp_path, page_file, "#sort=confidence")
    assert statuses(by_conf) == [
        "unknown",
        "suspected",
        "likely",
        "likely",
        "not-covered",
        "covered",
        "covered",
    ]
    assert 'aria-sort="ascending"' in by_conf


def test_screenshot_renders(chromium: str, page_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    run_chromium(
        chromium,
        tmp_path,
        "--window-size=1400,1100",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        page_file.as_uri(),
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 1100) and len(data) > 20_000  # a blank page compresses to far less


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """A minimal PNG reader (8-bit RGB or RGBA, non-interlaced, as Chromium writes): (width, height, rows)."""
    import zlib

    width, height, depth, ctype = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and ctype in (2, 6), (depth, ctype)
    bpp = 3 if ctype == 2 else 4
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(
            bytes(line) if bpp == 3 else bytes(v for j in range(0, stride, 4) for v in line[j : j + 3])
        )
        prev = line
    return width, height, rows


def test_charts_and_what_to_do_are_in_the_page(html_text: str) -> None:
    from scanner.report.html import ENTITY_FILL

    report = sample_report()
    counts = report.counts()
    page = _Page()
    page.feed(html_text)
    rects = {a.get("fill"): [] for t, a in page.tags if t == "rect"}
    for t, a in page.tags:
        if t == "rect":
            rects[a.get("fill")].append(int(a["data-count"] or 0))
    assert sum(rects["#b00020"]) == counts["covered"] and sum(rects["#b35900"]) == counts["likely"]
    # flagged devices per entity: Hikvision 2 (one covered, one likely), Dahua 2, Huawei 1
    assert sorted(rects[ENTITY_FILL], reverse=True) == [2, 2, 1]
    assert 'id="what-to-do"' in html_text and "Report within one business day" in html_text
    assert "https://dibnet.dod.mil" in html_text and "chart-trend" not in html_text  # no history given


def test_trend_chart_when_history_is_given() -> None:
    text = render(sample_report(), "html", trend=[("2026-11-01 09:00", 3), ("2026-11-08 09:00", 1)])
    assert 'id="chart-trend"' in text and 'data-count="3"' in text


def test_screenshot_shows_the_entity_chart(chromium: str, page_file: Path, tmp_path: Path) -> None:
    """The charts are drawn by the browser (inline SVG under the page's CSP): the entity bars' own colour
    covers a bar-sized area of the screenshot, in proportion 2:2:1."""
    from scanner.report.html import ENTITY_FILL

    shot = tmp_path / "charts.png"
    run_chromium(
        chromium,
        tmp_path,
        "--window-size=1400,900",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        page_file.as_uri(),
    )
    _, _, rows = _png_pixels(shot.read_bytes())
    target = bytes.fromhex(ENTITY_FILL[1:])
    per_row = [sum(1 for i in range(0, len(r), 3) if r[i : i + 3] == target) for r in rows]
    widths = sorted({w for w in per_row if w}, reverse=True)
    assert sum(per_row) > 3000, sum(per_row)  # three solid bars, not a stray pixel
    assert widths and widths[0] >= 200  # the longest bar is drawn at (nearly) full width
    assert any(abs(w * 2 - widths[0]) <= 4 for w in widths)  # and one half as long (Huawei 1 vs 2)
