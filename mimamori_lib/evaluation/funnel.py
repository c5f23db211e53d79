"""The support funnel of each year (in scope → extracted → decided → 支援要 → new → support started), its
comparison across years, and how they are published.

The funnel's counts are nested, so they are published as one linear system (:mod:`mimamori_lib.disclosure`): the
cells of every year with the relations between them (抽出 = 基本 + その他 + 次点層; 支援要 ≤ 会議で判断; …) and the
counts the report implies without showing — the difference of two nested counts is a count of children too (9 支援要
of whom 5 are new means 4 already-supported children judged 要). Small cells and small implied counts are protected
until the audit passes. A percentage, difference, confidence interval, p-value or median is shown only when every
count it is computed from is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import disclosure
from ..catalogue import datasets
from ..catalogue.vocabulary import NEED_HOLD, NEED_YES
from ..disclosure import Derived, System
from ..meeting.decisions import split_types
from ..params import Evaluation, Params

FUNNEL_ROWS = [("in_scope", "対象のこども (0〜18歳)"), ("extracted", "抽出"), ("extracted_basic", "　うち基本項目上位"),
               ("extracted_other", "　うちその他項目上位"), ("extracted_tier", "　うち次点層"), ("decided", "会議で判断"),
               ("already_supported", "既に支援につながっていた"), ("need_support", "支援要"), ("new_need", "新たに支援要 (新規)"),
               ("new_in_top", "　うち上位から"), ("new_in_tier", "　うち次点層から"), ("on_hold", "保留"),
               ("support_started", "支援を開始")]
# rows a reader looks for first: hidden only when nothing cheaper protects a small count
HEADLINE = {"in_scope", "extracted", "decided", "new_need"}
# the comparisons across years: (label, numerator, base)
COMPARISONS = (("抽出されたこどものうち新たに支援要と判断", "new_need", "extracted"),
               ("抽出されたこどものうち既に支援につながっていた", "already_supported", "extracted"),
               ("新たに支援要のうち支援を開始", "support_started", "new_need"))

# the schema's defaults (one home: params), for a call that does not pass the run's values
ALPHA, POWER = Evaluation.model_fields["alpha"].default, Evaluation.model_fields["power"].default


def funnel(p: Params) -> dict:
    """Children in scope → extracted → already supported → newly judged to need support → support started."""
    scores = datasets.read(p, "scores")
    dec = datasets.read(p, "decisions")
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
    new = (d["support_needed"] == NEED_YES) & ~d["already_supported"]
    out.update({
        "decided": len(d), "already_supported": int(d["already_supported"].sum()),
        "need_support": int((d["support_needed"] == NEED_YES).sum()), "new_need": int(new.sum()),
        "on_hold": int((d["support_needed"] == NEED_HOLD).sum()), "support_started": int((new & d["support_started_on"].notna()).sum()),
        "new_in_top": int((new & d["group"].isin(["basic", "other"])).sum()), "new_in_tier": int((new & (d["group"] == "tier")).sum()),
    })
    ref = pd.Timestamp(p.reference_date)
    out["days_to_decision"] = float((d["decided_on"] - ref).dt.days.median()) if d["decided_on"].notna().any() else np.nan
    started = d.loc[new & d["support_started_on"].notna(), "support_started_on"]
    out["days_to_support"] = float((started - ref).dt.days.median()) if len(started) else np.nan

    types = d.loc[new, "difficulty_types"].map(lambda s: split_types(s) or []).explode().dropna()
    out["new_by_type"] = types[types != ""].value_counts().to_dict() if len(types) else {}
    return out


# --- the system -------------------------------------------------------------------------------------

def _key(fy: int, name: str) -> tuple:
    return (f"FY{fy}", name)


def funnel_system(funnels: list[dict], threshold: int) -> System:
    """Every year's funnel as one system: its cells, the relations between them, and the implied counts."""
    values, eqs, ineqs, cells, cost = {}, [], [], set(), {}
    for f in funnels:
        fy = f["fy"]

        def k(name: str, fy=fy) -> tuple:
            return _key(fy, name)

        for name, _ in FUNNEL_ROWS:
            values[k(name)] = int(f.get(name, 0) or 0)
            cells.add(k(name))
            cost[k(name)] = values[k(name)] * (20 if name in HEADLINE else 1)
        eqs += [{k("extracted"): 1, k("extracted_basic"): -1, k("extracted_other"): -1, k("extracted_tier"): -1},
                {k("new_need"): 1, k("new_in_top"): -1, k("new_in_tier"): -1}]
        ineqs += [{k("extracted"): 1, k("in_scope"): -1}, {k("decided"): 1, k("extracted"): -1},
                  {k("already_supported"): 1, k("decided"): -1}, {k("need_support"): 1, k("decided"): -1},
                  {k("new_need"): 1, k("need_support"): -1}, {k("new_need"): 1, k("decided"): -1, k("already_supported"): 1},
                  {k("new_in_top"): 1, k("extracted_basic"): -1, k("extracted_other"): -1},
                  {k("new_in_tier"): 1, k("extracted_tier"): -1}, {k("on_hold"): 1, k("decided"): -1, k("need_support"): 1},
                  {k("support_started"): 1, k("new_need"): -1}]
        # counts the report implies: differences of nested counts (each ≥ 0)
        implied = {"not_decided": ("extracted", "decided"), "decided_not_supported_before": ("decided", "already_supported"),
                   "need_already_supported": ("need_support", "new_need"), "new_not_started": ("new_need", "support_started"),
                   "extracted_not_supported_before": ("extracted", "already_supported"),
                   "extracted_not_new": ("extracted", "new_need")}
        for name, (big, small) in implied.items():
            values[k(name)] = values[k(big)] - values[k(small)]
            eqs.append({k(name): 1, k(big): -1, k(small): 1})
        values[k("judged_no")] = values[k("decided")] - values[k("need_support")] - values[k("on_hold")]
        eqs.append({k("judged_no"): 1, k("decided"): -1, k("need_support"): 1, k("on_hold"): 1})
    sensitive = {key for key, v in values.items() if 1 <= v < threshold}
    return System(values=values, published=set(cells) - sensitive, equalities=eqs, inequalities=ineqs,
                  sensitive=sensitive, cells=cells, cost=cost)


def types_system(funnels: list[dict], threshold: int) -> System:
    """New needs by difficulty type: each type counts at most the year's new needs (a child may have several)."""
    values, ineqs = {}, []
    for f in funnels:
        for t, n in f.get("new_by_type", {}).items():
            values[_key(f["fy"], f"type:{t}")] = int(n)
            ineqs.append({_key(f["fy"], f"type:{t}"): 1, _key(f["fy"], "new_need"): -1})
    sensitive = {key for key, v in values.items() if 1 <= v < threshold}
    return System(values=values, published=set(values) - sensitive, inequalities=ineqs, sensitive=sensitive, cells=set(values))


# --- the comparison ---------------------------------------------------------------------------------

def compare_proportions(k1: int, n1: int, k2: int, n2: int, alpha: float = ALPHA, power: float = POWER) -> dict:
    """Difference of two proportions (year 2 − year 1): Fisher's exact test, Newcombe CI, and the smallest difference
    detectable with these numbers of children (two-sided, given power; at a 50% base, where it is largest, so that
    it depends on the bases only)."""
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import confint_proportions_2indep

    p1, p2 = (k1 / n1 if n1 else np.nan), (k2 / n2 if n2 else np.nan)
    pval = float(fisher_exact([[k2, n2 - k2], [k1, n1 - k1]])[1]) if n1 and n2 else np.nan
    lo, hi = confint_proportions_2indep(k2, n2, k1, n1, method="newcomb", compare="diff", alpha=alpha) if n1 and n2 else (np.nan, np.nan)
    return {"p1": p1, "p2": p2, "difference": p2 - p1, "ci_low": float(lo), "ci_high": float(hi), "p_value": pval,
            "min_detectable_difference": min_detectable_difference(n1, n2, alpha, power)}


def min_detectable_difference(n1: int, n2: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest difference of two proportions detectable around 50% with these bases."""
    from statsmodels.stats.power import NormalIndPower

    if not n1 or not n2:
        return np.nan
    h = NormalIndPower().solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1, alpha=alpha, power=power)
    return float(np.sin(min(np.pi / 2 + h, np.pi) / 2) ** 2 - 0.5)


def comparison_derived(funnels: list[dict]) -> list[Derived]:
    """The statistics of the comparison and the cells each is computed from."""
    if len(funnels) < 2:
        return []
    a, b = funnels[-2]["fy"], funnels[-1]["fy"]
    out = []
    for label, k, n in COMPARISONS:
        inputs = [_key(a, k), _key(a, n), _key(b, k), _key(b, n)]

        def pv(v: dict, inputs=inputs) -> float:
            return compare_proportions(*(v[i] for i in inputs))["p_value"]

        out.append(Derived(f"{label} (割合・差・信頼区間・p値)", inputs, pv))
    return out


def comparison_table(funnels: list[dict], system: System, alpha: float = ALPHA, power: float = POWER) -> pd.DataFrame:
    """Year-on-year comparison of the funnel's proportions. A row whose counts are not all shown is shown as ＊
    throughout (its percentages, difference, CI and p-value would let a hidden count back out); the smallest
    detectable difference depends on the bases only."""
    if len(funnels) < 2 or not all(f.get("decided") for f in funnels[-2:]):
        return pd.DataFrame()
    a, b = funnels[-2], funnels[-1]
    rows = []
    mask = disclosure.MASK
    for (label, k, n), d in zip(COMPARISONS, comparison_derived(funnels), strict=True):
        c = compare_proportions(a[k], a[n], b[k], b[n], alpha, power)
        show = disclosure.visible(system, d)
        base_shown = all(key in system.published for key in (_key(a["fy"], n), _key(b["fy"], n)))
        rows.append({"指標": label,
                     f"FY{a['fy']}": (f"{c['p1']:.1%}" if show else mask) if a[n] else "—",
                     f"FY{b['fy']}": (f"{c['p2']:.1%}" if show else mask) if b[n] else "—",
                     "差 (ポイント)": round(100 * c["difference"], 1) if show else mask,
                     "95%信頼区間": f"{100 * c['ci_low']:.1f} 〜 {100 * c['ci_high']:.1f}" if show else mask,
                     "p値 (Fisher)": round(c["p_value"], 3) if show else mask,
                     "検出可能な最小差 (ポイント)": round(100 * c["min_detectable_difference"], 1) if base_shown else mask})
    return pd.DataFrame(rows).set_index("指標")


def comparison_reading(table: pd.DataFrame, alpha: float = ALPHA) -> str:
    """A plain statement of what the comparison can and cannot show."""
    if table.empty:
        return "比較できる 2 年度分の会議結果がまだありません。"
    p = pd.to_numeric(table["p値 (Fisher)"], errors="coerce")
    sig = table[p < alpha]
    mdd = pd.to_numeric(table["検出可能な最小差 (ポイント)"], errors="coerce").dropna()
    s = (f"1 年あたりの抽出人数が数十人のため、この人数で統計的に確認できるのは約 {mdd.iloc[0]:.0f} ポイント以上の大きな差に限られます。"
         if len(mdd) else "")
    if p.isna().any():
        s += "人数の少ない指標は、割合や検定の結果からも人数が分かってしまうため、＊ で伏せています。"
    if sig.empty:
        return s + "今回の年度間の差はいずれも統計的に有意ではなく、偶然の変動と区別できません。増減を事業の効果と読むことはできません。"
    return s + f"{'、'.join(sig.index)} は有意な差がありましたが、1 回の比較であり、効果の確認には継続的な観察が必要です。"


# --- publication ------------------------------------------------------------------------------------

def _render_funnel(funnels: list[dict], system: System) -> pd.DataFrame:
    t = pd.DataFrame({f"FY{f['fy']}": [int(f.get(k, 0) or 0) for k, _ in FUNNEL_ROWS] for f in funnels},
                     index=[label for _, label in FUNNEL_ROWS]).astype(object)
    for f in funnels:
        for name, label in FUNNEL_ROWS:
            if _key(f["fy"], name) not in system.published:
                t.at[label, f"FY{f['fy']}"] = disclosure.MASK
    return t


def _render_types(funnels: list[dict], system: System) -> pd.DataFrame:
    t = pd.DataFrame({f"FY{f['fy']}": pd.Series(f.get("new_by_type", {}), dtype=int) for f in funnels}).fillna(0).astype(int)
    out = t.astype(object)
    for f in funnels:
        for typ in t.index:
            if _key(f["fy"], f"type:{typ}") in system.values and _key(f["fy"], f"type:{typ}") not in system.published:
                out.at[typ, f"FY{f['fy']}"] = disclosure.MASK
    return out


def _mark(t: pd.DataFrame, system: System, res, threshold: int, protection: int) -> pd.DataFrame:
    t.attrs.update({"disclosure_protected": True, "threshold": threshold, "protection": protection,
                    "audit_passed": res.passed, "system": system})
    return t


def publish(funnels: list[dict], threshold: int, protection: int, alpha: float, power: float,
            extra: list[System] = ()) -> dict:
    """The funnel, new needs by type, the FY comparison and the timing lines, protected and audited together (with
    ``extra`` systems that share its cells, e.g. the follow-up)."""
    system = funnel_system(funnels, threshold).merge(types_system(funnels, threshold))
    for s in extra:
        system = system.merge(s)
    system = disclosure.protect_system(system, protection)
    system.derived = [d for d in comparison_derived(funnels) if disclosure.visible(system, d)]
    res = disclosure.audit(system, protection, fresh=True)
    funnel_t = _mark(_render_funnel(funnels, system), system, res, threshold, protection)
    types_t = _render_types(funnels, system)
    types_t = (_mark(types_t, system, res, threshold, protection) if len(types_t)
               else disclosure.mark_safe(pd.DataFrame({"": ["該当なし"]}), "no rows"))
    comp = comparison_table(funnels, system, alpha, power)
    return {"system": system, "audit": res, "funnel_table": funnel_t, "types_table": types_t,
            "comparison": disclosure.mark_safe(comp, "statistics computed only from published counts"),
            "comparison_reading": comparison_reading(comp, alpha), "timing": timing_lines(funnels, system)}


def timing_lines(funnels: list[dict], system: System) -> list[str]:
    """Median days from the reference date to the meeting's decision and to the start of support, per year. A year
    without decisions says so; a median over a hidden count is not shown (it would belong to a few children)."""
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
            elif _key(f["fy"], base) not in system.published:
                parts.append(f"{label}: 人数が少ないため非公表")
            else:
                parts.append(f"{label} {v:.0f} 日")
        out.append(f"FY{f['fy']}: " + "、".join(parts) + " (基準日からの中央値)")
    return out
