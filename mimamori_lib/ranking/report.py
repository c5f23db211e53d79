"""Tables, plots and the model card of 25_ranking (counts and rates only; no child is named)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..params import Params
from .backtest import RANKING_LABEL
from .fairness import flags
from .kinds import ORDERINGS as STRATA_ORDERINGS

LIMITS = ("結果 (アウトカム) は「翌年度に支援や制度につながったこと」であって、支援の必要そのものではありません。"
          "支援につながりにくいこども (相談に来ない家庭、制度を知らない家庭) ほど結果に現れにくく、"
          "リストの評価もそのこどもを見落としやすい方向に偏ります。",
          "欠席の結果は翌年度の出欠ファイルの「前年度欠席日数」を使うため、判定した基準日より前 (4〜8月) の欠席も含みます (近似)。",
          "市外へ転出したこどもは翌年度の結果が分からないため、検証から除いています。",
          "生活習慣等調査の項目は前の年度にないため、モデルの特徴に使っていません。")
USE = "リストの順番を付けて会議に示すためのものです。支援の要否は会議で人が判断します。モデルは何も決めません。"


def backtest_table(t: pd.DataFrame) -> pd.DataFrame:
    """The backtest in Japanese: ranking, list size, hits, precision with its 95% interval, recall, lift."""
    out = pd.DataFrame({
        "順位付け": t["ranking"].map(RANKING_LABEL).fillna(t["ranking"]), "リストの人数": t["k"],
        "翌年度に結果あり": t["hits"].round(1),
        "適合率": t["precision"].round(3), "95%CI": [f"{lo:.2f}〜{hi:.2f}" for lo, hi in zip(t["ci_low"], t["ci_high"], strict=True)],
        "再現率": t["recall"].round(3), "無作為の場合との比 (リフト)": (t["precision"] / t["base_rate"]).round(1)})
    return out


def verdict(t: pd.DataFrame) -> list[str]:
    """In words, at each k: does the model beat the count ranking (intervals apart), or not?"""
    lines = []
    m, c = t[t["ranking"] == "model"].set_index("k"), t[t["ranking"] == "count"].set_index("k")
    for k in m.index.intersection(c.index):
        a, b = m.loc[k], c.loc[k]
        if a["precision"] <= b["precision"]:
            lines.append(f"上位 {k} 人: モデルは件数順を上回りません (適合率 {a['precision']:.2f} 対 {b['precision']:.2f})。")
        elif a["ci_low"] > b["ci_high"]:
            lines.append(f"上位 {k} 人: モデルが件数順を上回ります (適合率 {a['precision']:.2f} 対 {b['precision']:.2f}, 95%区間が重ならない)。")
        else:
            lines.append(f"上位 {k} 人: モデルの適合率が高いものの (適合率 {a['precision']:.2f} 対 {b['precision']:.2f})、"
                         "95%区間が重なり、はっきりした差とは言えません。")
    return lines


def precision_plot(t: pd.DataFrame):
    """Precision at each list size with 95% intervals, per ranking, and the base rate."""
    import matplotlib.pyplot as plt

    from ..output.plots import setup

    setup()
    fig, ax = plt.subplots(figsize=(7, 4))
    curves = t[t["ranking"] != "rule"]
    for i, (name, g) in enumerate(curves.groupby("ranking", sort=False)):
        x = np.arange(len(g)) + (i - 1) * 0.08
        ax.errorbar(x, g["precision"], yerr=[g["precision"] - g["ci_low"], g["ci_high"] - g["precision"]],
                    marker="o", capsize=3, label=RANKING_LABEL.get(name, name))
        ax.set_xticks(np.arange(len(g)), [str(k) for k in g["k"]])
    rule = t[t["ranking"] == "rule"]
    if len(rule):
        r = rule.iloc[0]
        ax.axhline(r["precision"], color="grey", linestyle=":", label=f"{RANKING_LABEL['rule']} ({int(r['k'])} 人)")
    ax.axhline(t["base_rate"].iloc[0], color="black", linestyle="--", linewidth=0.8, label="無作為に選んだ場合")
    ax.set_xlabel("リストの人数 (上位 k 人)")
    ax.set_ylabel("適合率 (翌年度に結果があった割合)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return ax


def calibration_plot(cal: pd.DataFrame, brier: float | None):
    """Predicted probability against the observed share (equal-count bins)."""
    import matplotlib.pyplot as plt

    from ..output.plots import setup

    setup()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    hi = float(max(cal["予測した確率"].max(), cal["実際の割合"].max(), 0.05)) * 1.1
    ax.plot([0, hi], [0, hi], color="grey", linestyle="--", linewidth=0.8)
    ax.plot(cal["予測した確率"], cal["実際の割合"], marker="o")
    ax.set_xlabel("モデルが予測した確率")
    ax.set_ylabel("実際に結果があった割合")
    ax.set_title(f"較正 (ブライアスコア {brier:.4f})" if brier is not None else "較正")
    return ax


def outcome_table(p: Params, counts: pd.DataFrame | None) -> pd.DataFrame | str:
    """The judged children and outcomes per pair of years."""
    if counts is None or counts.empty:
        return "検証できる年度の組がありません (前の年度の実行結果が必要です)。"
    t = counts.rename(columns={"judged_fy": "判定した年度", "outcome_fy": "結果を見た年度", "children": "両年度にいたこども",
                               "not_supported": "うち未支援", "hits": "未支援で翌年度に結果あり"})
    for oid, o in p.ranking.outcomes.items():
        if f"o_{oid}" in t:
            t = t.rename(columns={f"o_{oid}": f"{oid} {o.label}"})
    return t


def model_card(p: Params, res) -> str:
    """The model card (Markdown): data, outcome, features, years, performance, limits, intended use."""
    outcomes = "、".join(f"{k} {o.label}" for k, o in p.ranking.outcomes.items())
    lines = [f"### モデルカード (FY{p.fiscal_year})", "",
             f"- **用途**: {USE}",
             f"- **モデル**: 正則化ロジスティック回帰 (scikit-learn, C={p.ranking.C})。国籍と性別は特徴に使いません。",
             f"- **結果 (アウトカム)**: 判定した年度の基準日の後、翌年度の基準日までに起きた {outcomes} のいずれか "
             "(判定時に未支援のこどもについて)。"]
    if res.fitted is not None:
        yrs = "・".join(f"FY{a}→FY{b}" for a, b in res.pairs)
        lines += [f"- **学習データ**: {yrs} (未支援のこども {res.fitted.n:,} 人、うち結果あり {res.fitted.positives:,} 人)。"
                  f"データのハッシュ {res.fitted.data_sha256[:12]}…",
                  f"- **特徴**: {len(res.fitted.names)} 個 (項目、基準に近い項目、年齢帯、世帯のきょうだい)。点数表を参照。"]
    else:
        lines.append(f"- **学習**: {res.message}")
    if res.backtest is not None:
        t = res.backtest.set_index(["ranking", "k"])
        perf = []
        for k in p.ranking.ks:
            if ("model", k) in t.index and ("count", k) in t.index:
                a, b = t.loc[("model", k)], t.loc[("count", k)]
                perf.append(f"上位 {k} 人の適合率 モデル {a['precision']:.2f} ({a['ci_low']:.2f}〜{a['ci_high']:.2f}) / "
                            f"件数順 {b['precision']:.2f} ({b['ci_low']:.2f}〜{b['ci_high']:.2f})")
        a, b = res.pairs[-1]
        lines.append(f"- **検証 (FY{a} のリスト → FY{b} の結果, 標本外)**: " + "; ".join(perf) +
                     (f"; ブライアスコア {res.brier:.4f}" if res.brier is not None else ""))
    lines.append("- **限界**: " + " ".join(LIMITS))
    return "\n".join(lines)


def strata_table(t: pd.DataFrame | None, level: str = "kind") -> pd.DataFrame | str:
    """The band by kind of need (``level="kind"``), by age band (``"age"``) or per stratum (``"stratum"``): each
    ordering's hits, precision and recall of the kind's outcome with 95% intervals (internal report, counts shown)."""
    if t is None or t.empty:
        return "前の年度がないため、層別の検証はできません。"
    whole = t["age_band"] == "全年齢"
    pick = {"kind": whole & (t["kind"] != "すべて"), "age": ~whole & (t["kind"] == "すべて"),
            "stratum": ~whole & (t["kind"] != "すべて")}[level] | (t["stratum"] == "all")
    x = t[pick].copy()
    x["並べ方"] = x["ordering"].map(STRATA_ORDERINGS)
    x["適合率 (95%CI)"] = [f"{p:.2f} ({lo:.2f}〜{hi:.2f})" if pd.notna(p) else "—"
                         for p, lo, hi in zip(x["precision"], x["precision_low"], x["precision_high"], strict=True)]
    x["再現率 (95%CI)"] = [f"{r:.3f} ({lo:.3f}〜{hi:.3f})" if pd.notna(r) else "—"
                         for r, lo, hi in zip(x["recall"], x["recall_low"], x["recall_high"], strict=True)]
    return x.rename(columns={"kind": "困難の種類", "age_band": "年齢帯", "listed": "リストの人数", "positives": "結果のあったこども",
                             "hits": "見つけた人数"})[["困難の種類", "年齢帯", "並べ方", "リストの人数", "結果のあったこども",
                                                       "見つけた人数", "適合率 (95%CI)", "再現率 (95%CI)"]].reset_index(drop=True)


def strata_verdict(t: pd.DataFrame | None) -> list[str]:
    """Where the strata find more or fewer than today's single model and the count ranking, in words."""
    if t is None or t.empty:
        return []
    lines = []
    whole = t[(t["age_band"] == "全年齢") | (t["kind"] == "すべて")]
    for sid, g in whole.groupby("stratum", sort=False):
        h = g.set_index("ordering")["hits"]
        name = g["kind"].iloc[0] if g["age_band"].iloc[0] == "全年齢" and sid != "all" else (g["age_band"].iloc[0] if sid != "all" else "全体")
        lines.append(f"{name}: 層別 {h.get('strata', 0):.0f} 人、モデル (1つ) {h.get('model', 0):.0f} 人、件数順 {h.get('count', 0):.1f} 人")
    return lines


def kinds_table(kinds: dict) -> pd.DataFrame:
    """Each kind of need: whether it has its own model (trained on how many children and outcomes), or the count."""
    return pd.DataFrame([{"困難の種類": k["label"], "並べ方": "モデル" if k["model"] else "件数の順 (モデルなし)",
                          "学習したこども": k.get("n", ""), "結果のあったこども": k.get("positives", ""),
                          "説明": k.get("message", "")} for k in kinds.values()])


def kinds_fairness(t: pd.DataFrame | None) -> pd.DataFrame | str:
    """The fairness audit per kind of need, each ordering's band named with its kind."""
    if t is None or t.empty:
        return "前の年度がないため、監査はできません。"
    return flags(t.assign(ranking=t["kind"] + ": " + t["ranking"].map(STRATA_ORDERINGS).fillna(t["ranking"])))
