"""評価: each year's support funnel and process indicators, FY-to-FY comparison with honest statistics, and the
staff hearing (Likert answers and coded free comments). Every table meant for the public report is returned
disclosure-controlled (:mod:`disclosure`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import disclosure, paths
from .params import Params, run_years, year_params
from .restricted import private_file
from .scoring import GROUP_LABEL

log = logging.getLogger(__name__)


def _read(p: Params, name: str) -> pd.DataFrame | None:
    f = p.processed / name
    if not f.exists():
        return None
    return pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f, encoding="utf-8-sig", keep_default_na=False)


# --- the funnel -------------------------------------------------------------------------------------

def funnel(p: Params) -> dict:
    """Children in scope → extracted → already supported → newly judged to need support → support started."""
    scores = _read(p, "scores.parquet")
    dec = _read(p, "decisions.parquet")
    if scores is None:
        return {}
    x = scores[scores["group"] != ""]
    out = {"fy": p.fiscal_year, "in_scope": len(scores), "extracted": len(x)}
    for g in ("basic", "other", "tier"):
        out[f"extracted_{g}"] = int((x["group"] == g).sum())
    if dec is None:
        out["decided"] = 0
        return out
    d = dec.merge(x[["person_id", "group"]], on="person_id", how="left")
    new = (d["support_needed"] == "要") & ~d["already_supported"]
    out.update({
        "decided": len(d), "already_supported": int(d["already_supported"].sum()),
        "need_support": int((d["support_needed"] == "要").sum()), "new_need": int(new.sum()),
        "on_hold": int((d["support_needed"] == "保留").sum()), "support_started": int((new & d["support_started_on"].notna()).sum()),
        "new_in_top": int((new & d["group"].isin(["basic", "other"])).sum()), "new_in_tier": int((new & (d["group"] == "tier")).sum()),
    })
    ref = pd.Timestamp(p.reference_date)
    out["days_to_decision"] = float((d["decided_on"] - ref).dt.days.median()) if d["decided_on"].notna().any() else np.nan
    started = d.loc[new & d["support_started_on"].notna(), "support_started_on"]
    out["days_to_support"] = float((started - ref).dt.days.median()) if len(started) else np.nan
    out["yield_per_extracted"] = round(out["new_need"] / out["extracted"], 3) if out["extracted"] else np.nan
    from .meeting import split_types

    types = d.loc[new, "difficulty_types"].map(lambda s: split_types(s) or []).explode().dropna()
    out["new_by_type"] = types[types != ""].value_counts().to_dict() if len(types) else {}
    return out


def process_indicators(p: Params) -> dict:
    """Sources loaded, rows quarantined, linkage rate, review queue size, run time."""
    s = _read(p, "ingest_summary.csv")
    r = _read(p, "linkage_rates.csv")
    out = {"fy": p.fiscal_year}
    if s is not None:
        out.update(sources=len(s), sources_loaded=int((s["status"] == "loaded").sum()),
                   rows_read=int(pd.to_numeric(s["rows_read"]).sum()), rows_quarantined=int(pd.to_numeric(s["rows_quarantined"]).sum()))
    if r is not None and len(r):
        for c in ("auto", "reviewed", "review", "unmatched", "records"):
            r[c] = pd.to_numeric(r[c])
        out.update(linkage_rate=round(float((r["auto"] + r["reviewed"]).sum() / r["records"].sum()), 4),
                   review_queue=int(r["review"].sum()))
    steps = p.reports / paths.fy_dir(p.fiscal_year) / "run_steps.json"
    if steps.exists():
        out["run_seconds"] = round(sum(x["seconds"] for x in json.loads(steps.read_text())), 1)
    return out


# --- comparison across years ------------------------------------------------------------------------

def compare_proportions(k1: int, n1: int, k2: int, n2: int, alpha: float = 0.05, power: float = 0.8) -> dict:
    """Difference of two proportions (year 2 − year 1): Fisher's exact test, Newcombe CI, smallest detectable
    difference at this sample size (two-sided, given power) around year 1's proportion."""
    from scipy.stats import fisher_exact
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import confint_proportions_2indep

    p1, p2 = (k1 / n1 if n1 else np.nan), (k2 / n2 if n2 else np.nan)
    pval = float(fisher_exact([[k2, n2 - k2], [k1, n1 - k1]])[1]) if n1 and n2 else np.nan
    lo, hi = confint_proportions_2indep(k2, n2, k1, n1, method="newcomb", compare="diff", alpha=alpha) if n1 and n2 else (np.nan, np.nan)
    mdd = np.nan
    if n1 and n2:
        h = NormalIndPower().solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1, alpha=alpha, power=power)
        base = min(max(p1, 0.01), 0.99)
        phi = 2 * np.arcsin(np.sqrt(base)) + (h if base < 0.5 else -h)  # toward the middle, where it is largest
        phi = min(max(phi, 0.0), np.pi)
        mdd = float(abs(np.sin(phi / 2) ** 2 - base))
    return {"p1": p1, "p2": p2, "difference": p2 - p1, "ci_low": float(lo), "ci_high": float(hi), "p_value": pval,
            "min_detectable_difference": mdd}


def _small(k: int, n: int, threshold: int) -> bool:
    """A proportion that would reveal a small number of children (numerator, its complement or base small)."""
    return n < threshold or 0 < k < threshold or 0 < n - k < threshold


def _pct(v: float, base: int, hide: bool) -> str:
    return "—" if not base else (disclosure.MASK if hide else f"{v:.1%}")


def comparison_table(funnels: list[dict], alpha: float = 0.05, power: float = 0.8, threshold: int = 5) -> pd.DataFrame:
    """Year-on-year comparison of the funnel's proportions. A percentage that would reveal a small number of
    children is suppressed (＊); the test statistics of its row are kept, as they do not."""
    if len(funnels) < 2 or not all(f.get("decided") for f in funnels[-2:]):
        return pd.DataFrame()
    a, b = funnels[-2], funnels[-1]
    rows = []
    for label, k, n in (("抽出されたこどものうち新たに支援要と判断", "new_need", "extracted"),
                        ("抽出されたこどものうち既に支援につながっていた", "already_supported", "extracted"),
                        ("新たに支援要のうち支援を開始", "support_started", "new_need")):
        c = compare_proportions(a[k], a[n], b[k], b[n], alpha, power)
        hide = _small(a[k], a[n], threshold) or _small(b[k], b[n], threshold)
        rows.append({"指標": label, f"FY{a['fy']}": _pct(c["p1"], a[n], hide), f"FY{b['fy']}": _pct(c["p2"], b[n], hide),
                     "差 (ポイント)": disclosure.MASK if hide else round(100 * c["difference"], 1),
                     "95%信頼区間": disclosure.MASK if hide else f"{100 * c['ci_low']:.1f} 〜 {100 * c['ci_high']:.1f}",
                     "p値 (Fisher)": round(c["p_value"], 3),
                     "検出可能な最小差 (ポイント)": round(100 * c["min_detectable_difference"], 1)})
    return pd.DataFrame(rows).set_index("指標")


def comparison_reading(table: pd.DataFrame, alpha: float = 0.05) -> str:
    """A plain statement of what the comparison can and cannot show."""
    if table.empty:
        return "比較できる 2 年度分の会議結果がまだありません。"
    sig = table[table["p値 (Fisher)"] < alpha]
    mdd = table["検出可能な最小差 (ポイント)"].iloc[0]
    s = (f"1 年あたりの抽出人数が数十人のため、この人数で統計的に確認できるのは約 {mdd:.0f} ポイント以上の大きな差に限られます。")
    if sig.empty:
        return s + "今回の年度間の差はいずれも統計的に有意ではなく、偶然の変動と区別できません。増減を事業の効果と読むことはできません。"
    return s + f"{'、'.join(sig.index)} は有意な差がありましたが、1 回の比較であり、効果の確認には継続的な観察が必要です。"


# --- public tables ----------------------------------------------------------------------------------

FUNNEL_ROWS = [("in_scope", "対象のこども (0〜18歳)"), ("extracted", "抽出"), ("extracted_basic", "　うち基本項目上位"),
               ("extracted_other", "　うちその他項目上位"), ("extracted_tier", "　うち次点層"), ("decided", "会議で判断"),
               ("already_supported", "既に支援につながっていた"), ("need_support", "支援要"), ("new_need", "新たに支援要 (新規)"),
               ("new_in_top", "　うち上位から"), ("new_in_tier", "　うち次点層から"), ("on_hold", "保留"),
               ("support_started", "支援を開始")]


# (count, its subset, the cell to hide when their difference is a small count)
NESTED = [("extracted", "decided", "decided"), ("decided", "already_supported", "already_supported"),
          ("need_support", "new_need", "need_support"), ("new_need", "support_started", "support_started")]


def funnel_table(funnels: list[dict], threshold: int) -> pd.DataFrame:
    """The funnel of every year, disclosure-controlled (each year is one column; no totals across years)."""
    t = pd.DataFrame({f"FY{f['fy']}": [int(f.get(k, 0) or 0) for k, _ in FUNNEL_ROWS] for f in funnels},
                     index=[label for _, label in FUNNEL_ROWS])
    # cells are nested (a funnel), so each is judged alone: primary suppression, and the sub-rows of a row
    # are protected against their parent by secondary suppression within each year's column
    out = t.astype(object)
    idx = [k for k, _ in FUNNEL_ROWS]
    for col in t.columns:
        v = t[col].to_numpy()
        mask = disclosure.primary(v, threshold)
        for _parent, kids in (("extracted", ["extracted_basic", "extracted_other", "extracted_tier"]),
                             ("new_need", ["new_in_top", "new_in_tier"])):
            sub = [idx.index(k) for k in kids]
            if mask[sub].sum() == 1:
                cand = [i for i in sub if not mask[i] and v[i] > 0]
                if cand:
                    mask[min(cand, key=lambda i: v[i])] = True
        # nested counts: a small difference between a count and its subset would reveal children (9 支援要 and
        # 5 of them new → 4 already-supported children judged 要); hide one side of such a pair
        for big, small, hide in NESTED:
            i, j, h = idx.index(big), idx.index(small), idx.index(hide)
            if not mask[i] and not mask[j] and 0 < v[i] - v[j] < threshold:
                mask[h] = True
        out.loc[mask, col] = disclosure.MASK
    out.attrs["disclosure_protected"] = True
    return out


def types_table(funnels: list[dict], threshold: int) -> pd.DataFrame:
    """New support needs by difficulty type and year (a child may have several types), disclosure-controlled."""
    t = pd.DataFrame({f"FY{f['fy']}": pd.Series(f.get("new_by_type", {}), dtype=int) for f in funnels}).fillna(0).astype(int)
    if t.empty:
        return disclosure.mark_safe(pd.DataFrame({"": ["該当なし"]}), "no rows")
    return disclosure.protect(t, threshold=threshold, totals=False)


def _fmt(key: str, v) -> str:
    if v is None:
        return "—"
    if key == "linkage_rate":
        return f"{v:.1%}"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def process_table(procs: list[dict]) -> pd.DataFrame:
    """Process indicators per year (counts of files and rows, rates: no child is countable from them)."""
    labels = {"sources": "受領ファイル数", "sources_loaded": "取込できたファイル数", "rows_read": "読込行数",
              "rows_quarantined": "隔離した行数", "linkage_rate": "名寄せ連結率", "review_queue": "名寄せ確認待ち件数",
              "run_seconds": "処理時間 (秒)"}
    t = pd.DataFrame({f"FY{p['fy']}": [_fmt(k, p.get(k)) for k in labels] for p in procs}, index=list(labels.values()))
    return disclosure.mark_safe(t, "file and row counts and rates, not counts of children")


# --- staff hearing ----------------------------------------------------------------------------------

LIKERT = {"q1_shared_view": "対象者認識の一致", "q2_understanding": "こども理解の深まり", "q3_data_useful": "データの有用性",
          "q4_workload": "業務負担 (5=重い)"}


def hearing(ps: list[dict]) -> pd.DataFrame:
    """The staff hearing of every year (one row per respondent)."""
    from .ingest import read_table, role_source

    frames = []
    for p in ps:
        t = read_table(p, role_source(p, "hearing"))
        if t is not None:
            frames.append(t.assign(fy=p.fiscal_year))
    if not frames:
        return pd.DataFrame()
    h = pd.concat(frames, ignore_index=True)
    for c in LIKERT:
        h[c] = pd.to_numeric(h[c], errors="coerce")
    return h


def likert_summary(h: pd.DataFrame) -> pd.DataFrame:
    """Mean (and n) of each question by year and 所属区分 — staff opinions, not counts of children."""
    rows = []
    for (fy, aff), g in h.groupby(["fy", "affiliation"]):
        row = {"年度": f"FY{fy}", "所属区分": aff, "回答者数": len(g)}
        row.update({label: round(float(g[c].mean()), 2) for c, label in LIKERT.items()})
        rows.append(row)
    return disclosure.mark_safe(pd.DataFrame(rows), "averages of staff answers")


def likert_tests(h: pd.DataFrame) -> pd.DataFrame:
    """Mann–Whitney U test of each question between the first and last year (all staff)."""
    from scipy.stats import mannwhitneyu

    years = sorted(h["fy"].unique())
    if len(years) < 2:
        return disclosure.mark_safe(pd.DataFrame(), "no comparison")
    a, b = h[h["fy"] == years[0]], h[h["fy"] == years[-1]]
    rows = []
    for c, label in LIKERT.items():
        x, y = a[c].dropna(), b[c].dropna()
        stat, pv = mannwhitneyu(y, x, alternative="two-sided")
        rows.append({"設問": label, f"FY{years[0]} 平均": round(float(x.mean()), 2), f"FY{years[-1]} 平均": round(float(y.mean()), 2),
                     "p値 (Mann–Whitney)": round(float(pv), 3)})
    return disclosure.mark_safe(pd.DataFrame(rows), "test statistics of staff answers")


def code_comments(h: pd.DataFrame, codebook: dict[str, list[str]]) -> pd.DataFrame:
    """Each free comment coded into themes by keyword (a comment may have several themes)."""
    out = h[["fy", "affiliation", "comment"]].copy()
    out["comment"] = out["comment"].fillna("")
    for theme, words in codebook.items():
        out[theme] = out["comment"].map(lambda s, words=words: any(w in s for w in words)).astype(int)
    return out


def theme_counts(coded: pd.DataFrame, codebook: dict, threshold: int) -> pd.DataFrame:
    """Comments per theme and year (staff, disclosure-controlled like every count)."""
    t = coded.groupby("fy")[list(codebook)].sum().T
    t.columns = [f"FY{c}" for c in t.columns]
    return disclosure.protect(t, threshold=threshold, totals=False)


def write_internal_comments(p: Params, coded: pd.DataFrame) -> Path:
    """Quotes of the free comments, with their themes: internal report only."""
    with private_file(p.internal / "hearing_comments.csv", p.internal_root) as f:
        coded[coded["comment"] != ""].to_csv(f, index=False, encoding="utf-8-sig")
    return f


def evaluate(p: Params) -> dict:
    """Everything the evaluation notebook and the public report show, for the years in ``evaluation.years``."""
    ev = p.evaluation
    years = [y for y in (ev.years or run_years(p)) if y <= p.fiscal_year]
    ps = [year_params(p, y) for y in years]
    funnels = [funnel(q) for q in ps]
    funnels = [f for f in funnels if f]
    procs = [process_indicators(q) for q in ps]
    threshold = p.disclosure.threshold
    comp = comparison_table(funnels, ev.alpha, ev.power, threshold)
    h = hearing(ps)
    coded = code_comments(h, ev.codebook) if len(h) else pd.DataFrame()
    if len(coded):
        write_internal_comments(p, coded)
    return {
        "years": years, "funnels": funnels, "process": procs,
        "funnel_table": funnel_table(funnels, threshold) if funnels else disclosure.mark_safe(pd.DataFrame(), "empty"),
        "types_table": types_table(funnels, threshold) if funnels else disclosure.mark_safe(pd.DataFrame(), "empty"),
        "process_table": process_table(procs),
        "comparison": disclosure.mark_safe(comp, "percentages and test statistics of the funnel"),
        "comparison_reading": comparison_reading(comp, ev.alpha),
        "likert": likert_summary(h) if len(h) else None, "likert_tests": likert_tests(h) if len(h) else None,
        "themes": theme_counts(coded, ev.codebook, threshold) if len(coded) else None,
        "group_labels": GROUP_LABEL, "timing": timing_lines(funnels, threshold),
    }


def funnel_plot(table: pd.DataFrame):
    """Bars of the funnel per year from the disclosure-controlled table (suppressed cells are left out)."""
    import matplotlib.pyplot as plt

    from .plots import setup

    setup()
    rows = ["抽出", "会議で判断", "既に支援につながっていた", "新たに支援要 (新規)", "支援を開始"]
    t = table.loc[[r for r in rows if r in table.index]].replace(disclosure.MASK, np.nan).astype(float)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    t.plot.bar(ax=ax, rot=0, color=["#9db4d6", "#4c72b0", "#2a4d80"][: len(t.columns)])
    ax.set_ylabel("人数")
    ax.set_xlabel("")
    ax.set_title("支援を実施するまでの流れ (少数は秘匿: 表示なし)")
    fig.tight_layout()
    return fig


def timing_lines(funnels: list[dict], threshold: int) -> list[str]:
    """Median days from the reference date to the meeting's decision and to the start of support, per year. A year
    without decisions says so; a median of fewer than ``threshold`` children is not shown (it would be theirs)."""
    out = []
    for f in funnels:
        if not f.get("decided"):
            out.append(f"FY{f['fy']}: 会議の判断はまだありません。")
            continue
        parts = []
        for key, base, label in (("days_to_decision", "decided", "判断まで"), ("days_to_support", "support_started", "支援開始まで")):
            v, n = f.get(key), int(f.get(base) or 0)
            if v is None or pd.isna(v) or n == 0:
                parts.append(f"{label}: 記録なし")
            elif n < threshold:
                parts.append(f"{label}: 人数が少ないため非公表")
            else:
                parts.append(f"{label} {v:.0f} 日")
        out.append(f"FY{f['fy']}: " + "、".join(parts) + " (基準日からの中央値)")
    return out


def overview_text(e: dict) -> str:
    """The opening numbers of the report (large counts only)."""
    f = e["funnels"][-1] if e["funnels"] else {}
    pr = e["process"][-1] if e["process"] else {}
    return (f"FY{f.get('fy', '')} は、0〜18歳のこども {f.get('in_scope', 0):,} 人を対象に、{pr.get('sources_loaded', 0)} 種類の"
            f"庁内データ (延べ {pr.get('rows_read', 0):,} 行) を連携し、支援が必要な可能性のあるこどもを抽出して支援担当者会議で"
            "支援の要否を判断しました。")
