"""Markdown escaping (shared by the markdown and compliance formats).

Device-supplied strings always go in code spans (``code``): no HTML, emphasis or autolink applies there.
Our own strings (vendor names, notes, waiver reasons) go through ``md``, which escapes inline syntax.
"""

from __future__ import annotations

import html
import re

from scanner.report._text import visible

_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")


def md(text: str | None, limit: int | None = None) -> str:
    """Text safe inside Markdown prose or a table cell: HTML and inline Markdown characters escaped."""
    return _MD_INLINE.sub(r"\\\1", html.escape(visible(text, limit), quote=False))


def code(text: str | None, limit: int | None = None, *, in_table: bool = False) -> str:
    """Text as an inline code span no backtick inside can close; '' when empty. GFM cells need '|' escaped."""
    shown = visible(text, limit)
    if not shown:
        return ""
    if in_table:
        shown = shown.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"
