"""The report's narrative as data: the texts a city writes for its 成果報告会 (事業概要, 支援業務プロセス, 課題・対応策・
効果 per phase, closing remarks) come from an editable YAML file per year (``evaluation.narrative``), with every
figure a ``{name}`` filled in from the year's published counts — no sentence in code states a number, and a figure
hidden by disclosure control is never written into the text."""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

import pandas as pd

from ..catalogue.ages import SCOPE_LABEL
from ..disclosure import mark_safe
from ..errors import InputError
from ..params import Params, read_data_file
from ..text.japanese import wareki_fy
from .funnel import FUNNEL_ROWS

if TYPE_CHECKING:  # the result type only: report.py calls render
    from .report import EvaluationResult

HIDDEN = "少数のため非公表"
NOT_YET = "(まだ集計できません)"    # a figure of a step that has not produced it yet (e.g. before the meeting)
PROCESS = ("sources_loaded", "rows_read", "rows_quarantined", "review_queue", "departments", "linkage_rate")
SECTIONS = {"overview": str, "process": str, "phases": list, "closing": str}
PHASE_KEYS = ("段階", "課題", "対応策", "効果")


def figures(p: Params, e: EvaluationResult) -> dict[str, str]:
    """Every name a narrative may use, with this year's published value (a hidden count reads ``HIDDEN``)."""
    fy = p.fiscal_year
    f = next((x for x in e.funnels if x["fy"] == fy), {})
    pr = next((x for x in e.process if x["fy"] == fy), {})
    system = e.system

    out = {"fy": str(fy), "fy_label": wareki_fy(fy), "ages": SCOPE_LABEL}
    decided = bool(f.get("decided"))
    for name, _ in FUNNEL_ROWS:
        if name not in f or (not decided and name not in ("in_scope", "extracted", "extracted_basic", "extracted_other",
                                                          "extracted_tier")):
            out[name] = NOT_YET
            continue
        shown = system is not None and (f"FY{fy}", name) in system.published
        out[name] = f"{int(f[name]):,}" if shown else HIDDEN
    for k in PROCESS:
        out[k] = NOT_YET if k not in pr else f"{pr[k]:.1%}" if k == "linkage_rate" else f"{pr[k]:,}"
    return out


def _fill(text: str, figs: dict[str, str], where: str, file: str) -> str:
    names = [n for _, n, _, _ in string.Formatter().parse(text) if n is not None]
    unknown = [n for n in names if n not in figs]
    if unknown:
        raise InputError(f"成果報告会の文章 {file} の {where} に使えない名前があります: {'・'.join('{' + n + '}' for n in unknown)}"
                         f" (使える名前: {'・'.join(sorted(figs))}。この年度にない数値の名前も使えません)")
    try:
        return text.format_map(figs)
    except (ValueError, IndexError) as e:
        raise InputError(f"成果報告会の文章 {file} の {where} の {{ }} の書き方が正しくありません: {e}") from None


def load(p: Params) -> dict:
    """The narrative file named in params, checked (sections and phase keys)."""
    f = p.evaluation.narrative
    if not f.is_file():
        raise InputError(f"成果報告会の文章のファイルがありません: {f} (params の evaluation.narrative)")
    data = read_data_file(f) or {}
    for k, typ in SECTIONS.items():
        if k in data and not isinstance(data[k], typ):
            raise InputError(f"成果報告会の文章 {f} の {k} は{'文章' if typ is str else 'リスト'}にしてください")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise InputError(f"成果報告会の文章 {f} に不明な項目があります: {'・'.join(unknown)} (使える項目: {'・'.join(SECTIONS)})")
    for i, ph in enumerate(data.get("phases") or [], 1):
        if not isinstance(ph, dict) or set(ph) - set(PHASE_KEYS) or "段階" not in ph:
            raise InputError(f"成果報告会の文章 {f} の phases の {i} 番目は 段階・課題・対応策・効果 の項目にしてください")
    return data


def render(p: Params, e: EvaluationResult) -> dict:
    """The year's texts with figures filled in: overview, process, closing (str) and phases (a table)."""
    data, figs, file = load(p), figures(p, e), str(p.evaluation.narrative)
    out = {k: _fill(str(data.get(k) or ""), figs, k, file) for k in ("overview", "process", "closing")}
    phases = [{c: _fill(str(ph.get(c) or ""), figs, f"phases {i} {c}", file) for c in PHASE_KEYS}
              for i, ph in enumerate(data.get("phases") or [], 1)]

    table = pd.DataFrame(phases, columns=list(PHASE_KEYS)).set_index("段階") if phases else pd.DataFrame()
    out["phases"] = mark_safe(table, "the city's own text; figures only from published counts")
    return out
