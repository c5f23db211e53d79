"""Every HTML the project writes works offline: city networks (LGWAN, 校務系) are closed, so a page must load
nothing from outside its own file. Notebook reports use a project nbconvert template without require.js, MathJax
or mermaid; Splink's chart embeds its libraries; plots are embedded images. :func:`external_loads` is the check
(used when a report is written and by the tests on every HTML of a run)."""

from __future__ import annotations

import re
from pathlib import Path

from . import paths

# src="http…", <link href="http…"> (stylesheets, preloads), @import url(http…), import("http…") / from "http…"
_PATTERNS = [
    re.compile(r"""<(?:script|img|iframe|embed|source|audio|video|input)\b[^>]*\bsrc\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I),
    re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]+)""", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*["']?((?:https?:)?//[^"')\s;]+)""", re.I),
    re.compile(r"""\bimport\s*\(\s*["']((?:https?:)?//[^"']+)""", re.I),
    re.compile(r"""\bfrom\s+["']((?:https?:)?//[^"']+)["']""", re.I),
    re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')\s]+)""", re.I),
]
TEMPLATE_DIR = paths.PACKAGE / "templates" / "nbconvert"
TEMPLATE = "mimamori_offline"


def external_loads(html: str) -> list[str]:
    """Addresses an HTML page would load from outside itself (empty when it works offline)."""
    found: list[str] = []
    for pat in _PATTERNS:
        found += pat.findall(html)
    return sorted(set(found))


def html_exporter():
    """nbconvert's HTML exporter with the project's offline template, without code cells or prompts."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATE_DIR)], exclude_input=True,
                        exclude_input_prompt=True, exclude_output_prompt=True)


def check_file(f: Path) -> None:
    """Fail loudly (a bug, not a user's mistake) if a written page would load something from outside."""
    ext = external_loads(f.read_text(encoding="utf-8"))
    if ext:
        raise RuntimeError(f"{f} loads from outside the file (closed networks cannot): {', '.join(ext[:3])}")
