"""What the evaluation notebook and the public 成果報告会 report show: every table disclosure-controlled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import disclosure
from ..cases import public_cases
from ..catalogue import datasets
from ..judgement.scoring import GROUP_LABEL
from ..params import Params, run_years, year_params
from ..ranking.public import public_backtest, public_strata
from ..records.retention import screening_purged
from .funnel import funnel, publish
from .narrative import render
from .process import process_indicators, process_table
from .public_follow_up import follow_up_lines, follow_up_system, follow_up_table, follow_ups
from .staff_hearing import (
    code_comments,
    hearing,
    likert_summary,
    likert_tests,
    theme_counts,
    write_internal_comments,
)


@dataclass
class EvaluationResult:
    """Everything the evaluation notebook and the public report show (every public table disclosure-controlled)."""

    years: list[int]
    funnels: list[dict]
    process: list[dict]
    funnel_table: pd.DataFrame
    types_table: pd.DataFrame
    comparison: pd.DataFrame
    comparison_reading: str
    timing: list[str]
    audit: Any                        # the funnel's audit (None before any year can be counted)
    system: Any                       # the funnel's linear system (None likewise)
    process_table: pd.DataFrame
    likert: pd.DataFrame | None
    likert_tests: pd.DataFrame | None
    themes: pd.DataFrame | None
    ranking_table: pd.DataFrame
    ranking_lines: list[str]
    strata_tables: dict
    strata_lines: list[str]
    follow_up_table: pd.DataFrame
    follow_up_lines: list[str]
    cases: list[pd.DataFrame]
    group_labels: dict = field(default_factory=lambda: dict(GROUP_LABEL))
    narrative: dict = field(default_factory=dict)


def run(p: Params, write: bool = True) -> EvaluationResult:
    """Everything the evaluation notebook and the public report show, for the years in ``evaluation.years``; writes
    the staff hearing's coded comments (internal) and the public tables' audit (``write``)."""
    ev = p.evaluation
    years = [y for y in (ev.years or run_years(p)) if y <= p.fiscal_year]
    ps = [year_params(p, y) for y in years]
    funnels = [f for f in (funnel(q) for q in ps) if f]
    procs = [process_indicators(q) for q in ps]
    threshold, protection = p.disclosure.threshold, p.disclosure.protection
    fus = follow_ups(p, years)
    extra = [follow_up_system(fus, p, threshold)] if fus else []
    pub = publish(funnels, threshold, protection, ev.alpha, ev.power, extra) if funnels else {
        "funnel_table": disclosure.mark_safe(pd.DataFrame(), "empty"), "types_table": disclosure.mark_safe(pd.DataFrame(), "empty"),
        "comparison": disclosure.mark_safe(pd.DataFrame(), "empty"), "comparison_reading": "まだ集計できる年度がありません。",
        "timing": [], "audit": None, "system": None}
    gone = [y for y in years if y in screening_purged(p)]
    if gone:
        pub["comparison_reading"] = (f"{'・'.join(f'FY{y}' for y in gone)} のデータは保存期間を過ぎて削除したため、この報告には"
                                     "含めていません。" + pub["comparison_reading"])
    h = hearing(ps)
    coded = code_comments(h, ev.codebook) if len(h) else pd.DataFrame()
    if len(coded) and write:
        write_internal_comments(p, coded)
    themes = theme_counts(coded, ev.codebook, threshold, protection) if len(coded) else None
    ranking_table, ranking_lines, ranking_audit = public_backtest(p)
    strata_tables, strata_lines, strata_audit = public_strata(p)
    if write:
        write_audit(p, {"funnel": pub["audit"], "themes": disclosure.audit(themes.attrs["system"], protection, fresh=True)
                        if themes is not None else None, "ranking": ranking_audit, "strata": strata_audit})
    fu_table = (follow_up_table(fus, p, pub["system"]) if fus and pub["system"] is not None
                else disclosure.mark_safe(pd.DataFrame(), "empty"))
    if len(fu_table):
        fu_table.attrs["audit_passed"] = pub["audit"].passed
    out = EvaluationResult(
        years=years, funnels=funnels, process=procs, **pub, process_table=process_table(procs),
        likert=likert_summary(h) if len(h) else None, likert_tests=likert_tests(h) if len(h) else None,
        themes=themes, ranking_table=ranking_table, ranking_lines=ranking_lines,
        strata_tables=strata_tables, strata_lines=strata_lines,
        follow_up_table=fu_table, follow_up_lines=follow_up_lines(fus, p),
        cases=[disclosure.mark_safe(t, "a case marked 可 whose text passed the de-identification check")
               for t in public_cases(p, years)])
    out.narrative = render(p, out)
    return out


def write_audit(p: Params, audits: dict) -> None:
    """``<processed>/<fy>/public_audit.json``: for every public table of the report, whether its audit passed and
    each hidden small count's interval given everything published (the note and the tests read it)."""
    datasets.write(p, "public_audit", {name: a.record() for name, a in audits.items() if a is not None})


def funnel_plot(table: pd.DataFrame):
    """Bars of the funnel per year from the disclosure-controlled table (suppressed cells are left out)."""
    import matplotlib.pyplot as plt

    from ..output.plots import setup

    setup()
    rows = ["抽出", "会議で判断", "既に支援につながっていた", "新たに支援要 (新規)", "支援を開始"]
    with pd.option_context("future.no_silent_downcasting", True):  # cast to float right after, as before
        t = table.loc[[r for r in rows if r in table.index]].replace(disclosure.MASK, np.nan).astype(float)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    t.plot.bar(ax=ax, rot=0, color=["#9db4d6", "#4c72b0", "#2a4d80"][: len(t.columns)])
    ax.set_ylabel("人数")
    ax.set_xlabel("")
    ax.set_title("支援を実施するまでの流れ (少数は秘匿: 表示なし)")
    fig.tight_layout()
    return fig


def overview_text(e: EvaluationResult) -> str:
    """The opening of the report: the narrative file's overview with the year's published figures."""
    return e.narrative["overview"]
