"""The public report's section on how the list was made and how well each ordering predicted (成果報告会).

The backtest's hit counts are counts of children, so they pass disclosure control like every public table: small
counts are suppressed, and the publication is audited as a linear system — what an attacker knows besides the
published cells is written in: the hits of a longer list include those of a shorter one and exceed them by at most
the extra places, no list finds more than the children with an outcome. Precision, its interval and recall are
shown only where every count they are computed from is published. Hits at a shared tie are expected values:
rounded to whole children for publication.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import disclosure
from ..catalogue import datasets
from ..catalogue.ages import AGE_BANDS, age_band
from ..disclosure.system import AuditResult, Derived, System, audit, protect_system
from ..params import Params
from .backtest import RANKING_LABEL, wilson
from .report import LIMITS, USE, verdict

ONE = ("one",)
POS = ("positives",)


def _key(r: str, k: int) -> tuple:
    return ("hits", r, int(k))


def backtest_system(t: pd.DataFrame, positives: int, threshold: int) -> System:
    """The published backtest as a linear system (primary suppression applied)."""
    values = {ONE: 1, POS: int(positives)}
    ineq: list[dict] = []
    for r, g in t.groupby("ranking", sort=False):
        g = g.sort_values("k")
        keys = [_key(r, k) for k in g["k"]]
        for key, h, k in zip(keys, g["hits"], g["k"], strict=True):
            values[key] = int(round(h))
            ineq.append({key: 1, POS: -1})                       # hits ≤ children with an outcome
            ineq.append({key: 1, ONE: -int(k)})                  # hits ≤ places on the list
        for (a, ka), (b, kb) in zip(zip(keys, g["k"], strict=True), zip(keys[1:], g["k"].iloc[1:], strict=True), strict=False):
            ineq.append({a: 1, b: -1})                           # a longer list finds at least as many (±1: rounding)
            ineq[-1][ONE] = -1
            ineq.append({b: 1, a: -1, ONE: -(int(kb) - int(ka) + 1)})  # ... and at most the extra places more
    counts = set(values) - {ONE}
    published = {k for k, v in values.items() if not (1 <= v < threshold)}
    return System(values, published, [], ineq, sensitive=set(counts), cells=set(counts))


def public_backtest(p: Params) -> tuple[pd.DataFrame, list[str], AuditResult | None]:
    """The disclosure-controlled backtest table, the sentences around it, and the audit (None: nothing to show)."""
    t, info = datasets.read(p, "ranking_backtest"), datasets.read(p, "ranking_model") or {}
    lines = [f"**用途**: {USE}",
             "**リストの作り方**: 基本連携データ項目の該当数の上位 (グループ1) と、その他の項目の該当数の上位 (グループ2) を"
             "抽出します (別府市の件数ルール)。次点層 (まだ支援につながっていないこども) は、"
             + ("検証したモデルのリスク値の順に並べました。" if p.extraction.ranking == "model" and info.get("model")
                else "該当数の順に並べました。")]
    bt_info = info.get("backtest")
    if t is None or not bt_info:
        lines.append("前の年度の結果がまだないため、予測の検証はできません。")
        return disclosure.mark_safe(pd.DataFrame(), "empty"), lines, None
    threshold, protection = p.disclosure.threshold, p.disclosure.protection
    s = protect_system(backtest_system(t, bt_info["positives"], threshold), protection)
    pos_shown = POS in s.published
    rows, derived = [], []
    for r in t.itertuples():
        key = _key(r.ranking, r.k)
        shown = key in s.published
        h = s.values[key]
        lo, hi = wilson(h, r.k) if shown else (np.nan, np.nan)
        rows.append({"並べ方": RANKING_LABEL.get(r.ranking, r.ranking), "リストの人数": int(r.k),
                     "翌年度に結果あり": str(h) if shown else disclosure.MASK,
                     "適合率": round(h / r.k, 2) if shown else np.nan,
                     "95%CI": f"{lo:.2f}〜{hi:.2f}" if shown else "—",
                     "再現率": round(h / s.values[POS], 2) if shown and pos_shown and s.values[POS] else np.nan})
        if shown:
            derived.append(Derived(f"precision {key}", [key]))
            if pos_shown:
                derived.append(Derived(f"recall {key}", [key, POS]))
    s.derived = derived
    shown = pd.DataFrame([{"ranking": r.ranking, "k": r.k, "precision": s.values[_key(r.ranking, r.k)] / r.k,
                           "ci_low": wilson(s.values[_key(r.ranking, r.k)], r.k)[0],
                           "ci_high": wilson(s.values[_key(r.ranking, r.k)], r.k)[1]}
                          for r in t.itertuples() if _key(r.ranking, r.k) in s.published],
                         columns=["ranking", "k", "precision", "ci_low", "ci_high"])
    result = audit(s, protection, fresh=True)
    table = disclosure.mark_safe(pd.DataFrame(rows), "audited backtest (ranking.public)")
    table.attrs["audit_passed"] = result.passed
    a, b = bt_info["judged_fy"], bt_info["outcome_fy"]
    n_pos = f"{s.values[POS]:,} 人" if pos_shown else f"{threshold} 人未満"
    lines += [f"**予測の検証**: FY{a} の基準日の時点でまだ支援につながっていなかったこども {bt_info['population']:,} 人のうち、"
              f"FY{b} の基準日までに {'・'.join(info.get('outcomes', {}).values())} のいずれかがあったこどもは {n_pos} でした。"
              "各並べ方の上位の人数のうち、何人が該当したか (適合率) と、該当したこどものうち何人をリストが見つけていたか "
              "(再現率) を示します。モデルの点数は、そのこどもの世帯を学習に使っていないモデルによるものです (標本外)。",
              *[f"- {x}" for x in verdict(shown)],
              *[f"**限界**: {x}" for x in LIMITS]]
    return table, lines, result


def public_strata(p: Params) -> tuple[dict[str, pd.DataFrame], list[str], AuditResult | None]:
    """次点層 by kind of need and age band for the public report: this year's places per kind × age band, and — in
    the backtest of the previous year — how many children with the kind's outcome the band by strata found and did not
    find. The three count tables are protected and audited as one system; a recall is shown only where both of its
    counts are published."""
    scores = datasets.read(p, "scores")
    kinds = p.ranking.kinds
    bands = [label for _lo, _hi, label in AGE_BANDS]
    label = {kid: k.label for kid, k in kinds.items()}
    tables: dict[str, pd.DataFrame] = {}
    if scores is not None and "main_need" in scores and (scores["main_need"].astype(str) != "").any():
        tier = scores[(scores["group"] == "tier").to_numpy()]
        t = pd.crosstab(tier["main_need"].map(label), age_band(tier["age"]))
        tables["places"] = t.reindex(index=list(label.values()), columns=bands, fill_value=0).rename_axis(
            index="主な課題", columns="年齢帯")
    bt = datasets.read(p, "ranking_strata")
    if bt is not None and len(bt):
        s = bt[(bt["ordering"] == "strata") & (bt["kind"] != "すべて") & (bt["age_band"] != "全年齢")]
        hits = s.pivot_table(index="kind", columns="age_band", values="hits", aggfunc="sum").round().astype(int)
        pos = s.pivot_table(index="kind", columns="age_band", values="positives", aggfunc="sum").astype(int)
        order = [k.label for k in kinds.values()]
        tables["found"] = hits.reindex(index=order, columns=bands, fill_value=0).rename_axis(index="困難の種類", columns="年齢帯")
        tables["not_found"] = (pos - hits).reindex(index=order, columns=bands, fill_value=0).rename_axis(
            index="困難の種類", columns="年齢帯")
    lines = ["次点層は、困難の種類 (貧困・不登校・養育困難・虐待の疑い) × 年齢帯の層から組み立てます。1つのモデルでは予測しやすい"
             "結果 (欠席の継続) に偏り、0〜5歳や15〜18歳、貧困のこどもがほとんどリストに入らないためです。枠の半分は年齢帯ごとの"
             "未支援のこどもの数に比例させ、残りは検証したモデルが結果を多く見込む層に配分します。"]
    if not tables:
        return {}, lines + ["今年度は層別の次点層がありません (次点層の人数が 0、または層別を使っていません)。"], None
    threshold, protection = p.disclosure.threshold, p.disclosure.protection
    out = disclosure.protect_many(tables, threshold=threshold, protection=protection)
    system = next(iter(out.values())).attrs["system"]
    result = audit(system, protection, fresh=True)
    for t in out.values():
        t.attrs["audit_passed"] = result.passed
    if "found" in out:
        f, n = out["found"], out["not_found"]
        rate = pd.DataFrame(index=f.index, columns=f.columns, dtype=object).rename_axis(index="困難の種類", columns="年齢帯")
        for r in f.index:
            for c in f.columns:
                a, b = f.at[r, c], n.at[r, c]
                ok = disclosure.MASK not in (a, b) and int(a) + int(b) > 0
                rate.at[r, c] = f"{100 * int(a) / (int(a) + int(b)):.0f}%" if ok else "—"
        out["recall"] = disclosure.mark_safe(rate, "recall from two published counts only")
        lines.append("「見つけた」「見つけられなかった」は、前の年度のリストを翌年度の結果 (種類ごと) で確かめた人数です。"
                     "結果は「後に支援や制度につながったか」であり、支援の必要そのものではありません。")
    return out, lines, result
