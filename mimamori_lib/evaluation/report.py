"""What the evaluation notebook and the public 成果報告会 report show: every table disclosure-controlled."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
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
from ..text.japanese import wareki_date, wareki_fy
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
    _title(out)
    return out


TITLES = {"process_table": "データ連携の状況 (年度別)", "funnel_table": "支援を実施するまでの流れ (人数)",
          "types_table": "新たに支援要と判断したこどもの困難の類型 (人数、複数該当あり)",
          "follow_up_table": "会議で判断したこどもの翌年度の状況 (人数)", "ranking_table": "並べ方ごとの検証 (上位の人数のうち翌年度に支援につながった人数)",
          "comparison": "年度の比較", "likert": "職員ヒアリング (5 段階の平均)", "likert_tests": "職員ヒアリングの年度の比較",
          "themes": "自由記述のテーマ (件数)"}


def _title(e: EvaluationResult) -> None:
    """Every public table titled (its caption when shown)."""
    for name, title in TITLES.items():
        t = getattr(e, name)
        if isinstance(t, pd.DataFrame):
            t.attrs["title"] = title
    if isinstance(e.narrative.get("phases"), pd.DataFrame):
        e.narrative["phases"].attrs["title"] = "課題・対応策・効果"
    for i, t in enumerate(e.cases, 1):
        t.attrs["title"] = f"事例 {i}"


def cover(p: Params) -> str:
    """The handout's cover: the meeting, its date (令和), the city and the department (params), and what the report is."""
    ev = p.evaluation
    day = ev.meeting_date or dt.date.today()
    return (f'<div class="cover"><p class="meeting">{escape(ev.meeting_name)}　{wareki_fy(p.fiscal_year)}</p>'
            f'<p class="when">{wareki_date(day)}　{escape(p.city.prefecture + p.city.name)}　{escape(p.records.department)}</p>'
            "</div>")


GLOSSARY = [
    ("＊ (秘匿)", "人数が少なく、個人が推測されるおそれのある欄です。合計などから逆算できないよう、ほかの欄もあわせて伏せています。"),
    ("中央値", "値を小さい順に並べたときの真ん中の値です。少数の極端な値に左右されにくい代表値です。"),
    ("95%信頼区間", "調査をくり返したとき 95% の確率で本当の値を含む範囲です。幅が広いほど、不確かさが大きいことを示します。"),
    ("p値", "差が本当はないとしたとき、観察された以上の差が偶然に生じる確率です。小さいほど偶然とは考えにくくなります "
            "(0.05 未満を目安にしますが、差の大きさは示しません)。"),
    ("フィッシャーの正確検定", "2 つの年度の割合の違いを、人数が少なくても正確に確かめる方法です。"),
    ("マン・ホイットニーの U 検定", "5 段階の回答のような順序のある値が、2 つの年度で異なるかを確かめる方法です。"),
    ("オッズ比", "ある生活習慣のあるこどもが、ないこどもに比べて、困難に何倍なりやすいか (オッズの比) です。1 なら差はありません。"),
    ("擬似決定係数", "ロジスティック回帰のモデルが結果をどの程度説明できているかの目安 (0〜1) です。大きいほど説明できています。"),
    ("検出できる最小の差", "この人数の年度比較で、見逃さずに気づける差の大きさの目安です (検出力 80%)。"),
    ("適合率・再現率", "リストの上位のうち後に支援につながった割合 (適合率) と、後に支援につながったこどものうちリストに入っていた"
                       "割合 (再現率) です。"),
]


def glossary() -> str:
    """用語の説明: each statistic the report uses, in one plain sentence."""
    return "\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY)


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
    t = t.rename(columns=lambda c: wareki_fy(int(c[2:])) if str(c).startswith("FY") and str(c)[2:].isdigit() else c)
    t.index = [r.replace("につながっていた", "に\nつながっていた").replace(" (新規)", "\n(新規)") for r in t.index]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    t.plot.bar(ax=ax, rot=0, color=["#9db4d6", "#4c72b0", "#2a4d80"][: len(t.columns)])
    ax.set_ylabel("人数")
    ax.set_xlabel("")
    ax.set_title("支援を実施するまでの流れ (少数は秘匿: 表示なし)")
    fig.tight_layout()
    return fig


def overview_text(e: EvaluationResult) -> str:
    """The opening of the report: the narrative file's overview with the year's published figures."""
    return e.narrative["overview"]
