"""Every HTML the project writes works offline: city networks (LGWAN, 校務系) are closed, so a page must load
nothing from outside its own file. Notebook reports use a project nbconvert template without require.js, MathJax
or mermaid, and the theme's style sheets keep no comments (they cite web pages); plots are embedded images; Splink's
chart embeds its libraries and has no link to the online editor. :func:`external_loads` finds what a page would
load; :func:`web_addresses` finds any address at all — a notebook report must have neither (checked when it is
written and by the tests on every HTML of a run)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from .. import paths
from ..text.japanese import wareki_fy

# src="http…", <link href="http…"> (stylesheets, preloads), @import url(http…), import("http…") / from "http…"
_PATTERNS = [
    re.compile(r"""<(?:script|img|iframe|embed|source|audio|video|input)\b[^>]*\bsrc\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I),
    re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*["']?((?:https?:)?//[^"')\s;]+)""", re.I),
    re.compile(r"""\bimport\s*\(\s*["']((?:https?:)?//[^"']+)""", re.I),
    re.compile(r"""\bfrom\s+["']((?:https?:)?//[^"']+)["']""", re.I),
    re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", re.I),
]
_ADDRESS = re.compile(r"""(?:https?:)?//[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}[^\s"'<>)]*""")
_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.S | re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
TEMPLATE_DIR = paths.PACKAGE / "templates" / "nbconvert"
TEMPLATE = "mimamori_offline"


def external_loads(html: str) -> list[str]:
    """Addresses an HTML page would load from outside itself (empty when it works offline)."""
    found: list[str] = []
    for pat in _PATTERNS:
        found += pat.findall(html)
    return sorted(set(found))


def web_addresses(html: str) -> list[str]:
    """Every web address in a page, loaded or not (links, comments, text)."""
    return sorted(set(_ADDRESS.findall(html)))


def without_css_comments(html: str) -> str:
    """The page with the comments of its inline style sheets removed (JupyterLab's theme cites web pages there)."""
    return _STYLE.sub(lambda m: m[1] + _CSS_COMMENT.sub("", m[2]) + m[3], html)


_exporters = threading.local()


def html_exporter():
    """nbconvert's HTML exporter with the project's offline template, without code cells or prompts: one per thread,
    made once (its templates are compiled when it is made: a tenth of a second per report otherwise)."""
    from nbconvert import HTMLExporter

    if getattr(_exporters, "html", None) is None:
        _exporters.html = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATE_DIR)],
                                       exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    return _exporters.html


def works_offline(f: Path) -> bool:
    """Whether a written page exists and neither loads from outside nor names a web address (a report written by an
    older version may do both)."""
    if not f.is_file():
        return False
    html = f.read_text(encoding="utf-8", errors="replace")
    return not external_loads(html) and not web_addresses(html)


def check_file(f: Path, addresses: bool = True) -> None:
    """Fail loudly (a bug, not a user's mistake) if a written page would load something from outside, or (with
    ``addresses``) names any web address at all."""
    html = f.read_text(encoding="utf-8")
    ext = external_loads(html)
    if ext:
        raise RuntimeError(f"{f} loads from outside the file (closed networks cannot): {', '.join(ext[:3])}")
    found = web_addresses(html) if addresses else []
    if found:
        raise RuntimeError(f"{f} names web addresses (closed networks cannot reach them): {', '.join(found[:3])}")


_FY = re.compile(r"(?<![\w/.-])FY(\d{4})(?![\w.])")


def wareki_years(html: str) -> str:
    """Fiscal years as a city writes them, wherever a person reads a report (FY2025 → 令和7年度); never inside a
    style sheet or script."""
    parts = re.split(r"(<(?:style|script)\b.*?</(?:style|script)>)", html, flags=re.S | re.I)
    return "".join(x if i % 2 else _FY.sub(lambda m: wareki_fy(int(m[1])), x) for i, x in enumerate(parts))
