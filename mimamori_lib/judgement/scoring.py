"""判定: basic/other counts per child, the two extraction groups, ties at the cut-off, exclusions and tiers.

Group 1 (基本): the top N children by basic-item count, ties broken by other-item count.
Group 2 (その他): the top M of the remaining children by other-item count, ties broken by basic count.
Children still tied at a cut-off are all included and flagged (``ties: include``), or a deterministic order by
keyed pseudonym decides (``ties: break``; the same data always give the same list, and the order carries no
meaning about the child). Options: item weights, excluding children already supported, and a tier band of the
next K not-yet-supported children below the top (Beppu's plan for FY2026). All settings live in params.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.vocabulary import NEED_YES
from ..params import Extraction, NeedKind, Params
from ..privacy.pseudonym import extract_id, key_path, load_key
from .indicators import children_in_scope, evidence, item_matrix, load_catalogue, registry, weighted_sum
from .strata import kind_counts, select

log = logging.getLogger(__name__)
GROUP_LABEL = {"basic": "基本項目上位", "other": "その他項目上位", "tier": "次点層 (未支援)"}


def weighted_values(m: pd.DataFrame, catalogue: dict, weights: dict) -> pd.DataFrame:
    """Basic and other values: counts, or weighted sums when weights are given."""
    out = m.copy(deep=False)  # the new columns only; ``m`` is left as it was
    w = {i: float(weights.get(i, 1.0)) for i in catalogue}
    out["basic_value"] = weighted_sum(out, [i for i, it in catalogue.items() if it.get("basic")], w)
    out["other_value"] = weighted_sum(out, [i for i, it in catalogue.items() if not it.get("basic")], w)
    return out


# the count ranking as one number: basic value first, other value breaking ties (weighted values stay below this)
LEXICOGRAPHIC = 1000


def count_score(basic_value, other_value):
    """Basic value first, other value breaking ties, as the extraction orders children: one number to sort by."""
    return basic_value * LEXICOGRAPHIC + other_value


def _pick(cand: pd.DataFrame, first: str, second: str, n: int, ties: str) -> tuple[pd.DataFrame, pd.Series]:
    """Top ``n`` of ``cand`` by (first, second) descending. Returns the picked rows and their cut-off-tie flags."""
    if n <= 0 or cand.empty:
        return cand.iloc[0:0], pd.Series(dtype=bool)
    order = cand.sort_values([first, second, "person_id"], ascending=[False, False, True], kind="stable")
    if len(order) <= n:
        return order, pd.Series(False, index=order.index)
    cut = order.iloc[n - 1][[first, second]]
    at_cut = (order[first] == cut[first]) & (order[second] == cut[second])
    straddles = at_cut.sum() > at_cut.iloc[:n].sum()
    if ties == "include":
        above = (order[first] > cut[first]) | ((order[first] == cut[first]) & (order[second] > cut[second]))
        picked = order[above | at_cut]
    else:
        picked = order.iloc[:n]
    return picked, (at_cut.reindex(picked.index) & straddles)


def _rank(df: pd.DataFrame, first: str, second: str) -> pd.Series:
    key = list(zip(-df[first], -df[second], strict=True))
    return pd.Series(pd.Series(key, index=df.index).rank(method="min").astype(int), index=df.index)


def extract(scores: pd.DataFrame, ex: Extraction, kinds: dict[str, NeedKind] | None = None) -> pd.DataFrame:
    """Add ``group``, ``rank``, ``tied`` (同順位), ``cutoff_tie`` to the scores (``supported`` must be present); with
    ``kinds`` and ``extraction.strata`` on, the tier band is composed from strata (:mod:`.strata`) and its children
    carry ``main_need`` (the kind they are listed under) and ``stratum``."""
    ties = ex.ties
    min_count = ex.min_count
    df = scores.copy()
    df["group"], df["rank"], df["tied"], df["cutoff_tie"] = "", pd.NA, False, False
    eligible = ~df["supported"] if ex.exclude_supported else pd.Series(True, index=df.index)
    plan = [("basic", "basic_value", "other_value", "basic_count", ex.top_basic),
            ("other", "other_value", "basic_value", "other_count", ex.top_other)]
    taken = pd.Series(False, index=df.index)
    for group, first, second, count, n in plan:
        cand = df[eligible & ~taken & (df[count] >= min_count)]
        picked, cut_tie = _pick(cand, first, second, n, ties)
        _mark(df, picked, cut_tie, group, first, second)
        taken |= df.index.isin(picked.index)
    k = ex.tier_band
    df["main_need"], df["stratum"] = "", ""
    if k > 0:
        cand = df[~df["supported"] & ~taken & ((df["basic_count"] + df["other_count"]) >= min_count)]
        if kinds and ex.strata.enabled and all(f"count_{kid}" in df for kid in kinds):
            band = select(cand, kinds, ex.strata, k, by_model(df, ex), df.loc[~df["supported"], "age"])
            df.loc[band.index, "group"] = "tier"
            df.loc[band.index, "rank"] = np.arange(1, len(band) + 1)
            df.loc[band.index, "main_need"] = band["main_need"].to_numpy()
            df.loc[band.index, "stratum"] = band["stratum"].to_numpy()
        elif by_model(df, ex):
            # the model's validated risk orders the band (counts break exact ties): K children, exact ties flagged
            picked, cut_tie = _pick(cand, "model_risk", "basic_value", k, "break")
            _mark(df, picked, cut_tie, "tier", "model_risk", "basic_value")
            df.loc[picked.index, "tied"] = picked["model_risk"].duplicated(keep=False)
        else:
            picked, cut_tie = _pick(cand, "basic_value", "other_value", k, ties)
            _mark(df, picked, cut_tie, "tier", "basic_value", "other_value")
    df["rank"] = df["rank"].astype("Int64")
    return df


def by_model(scores: pd.DataFrame, ex: Extraction) -> bool:
    """Does the model order the tier band? (``extraction.ranking: model`` and a model was fitted.)"""
    return ex.ranking == "model" and "model_risk" in scores and bool(scores["model_risk"].notna().any())


def _mark(df: pd.DataFrame, picked: pd.DataFrame, cut_tie: pd.Series, group: str, first: str, second: str) -> None:
    if picked.empty:
        return
    r = _rank(picked, first, second)
    df.loc[picked.index, "group"] = group
    df.loc[picked.index, "rank"] = r
    df.loc[picked.index, "tied"] = r.duplicated(keep=False)
    df.loc[picked.index, "cutoff_tie"] = cut_tie.fillna(False).astype(bool)


def previously_needed(p: Params) -> set[str]:
    """Children judged 支援要否=要 at an earlier year's meeting (from that year's processed decisions)."""
    out: set[str] = set()
    for fy in datasets.years_with(p, "decisions", before=p.fiscal_year):
        if fy < p.fiscal_year:
            dec = datasets.read(p, "decisions", fy=fy)
            out |= set(dec.loc[dec["support_needed"] == NEED_YES, "person_id"].dropna())
    return out


def saved_items(p: Params) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The items and evidence 25_ranking wrote for the year (computed here when it has not run)."""
    if datasets.exists(p, "items") and datasets.exists(p, "evidence"):
        return datasets.read(p, "items"), datasets.read(p, "evidence"), load_catalogue(p, every_item=True)
    log.info("25_ranking の結果がないため、項目をここで判定します")
    return item_table(p)


def item_table(p: Params) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every child in scope with every item of the catalogue (survey items included), independent of how the list
    is drawn: (items, evidence, catalogue). Written as ``items.parquet``; what reads only the items (the survey
    analysis, the ranking's outcomes) does not run again when only the extraction changes."""
    catalogue = load_catalogue(p, every_item=True)
    juki = registry(p)
    links = datasets.read(p, "links")
    if links is None:
        log.warning("名寄せの結果 (links) がないため、学校系の項目は判定されません")
    ev = evidence(p, catalogue, juki, links)
    scope = children_in_scope(juki)
    items = item_matrix(scope, ev, catalogue)[["person_id", *catalogue]]
    items = scope[["person_id", "household_id", "age"]].merge(items, on="person_id")
    return items, ev, catalogue


def write_items(p: Params) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every child's items and the evidence of every item (match and near), saved as ``items.parquet`` and
    ``evidence.parquet`` (25_ranking's first job; 30_extract and 40_survey read them)."""
    items, ev, full = item_table(p)
    datasets.write(p, "items", items)
    datasets.write(p, "evidence", ev)
    return items, ev, full


def score(items: pd.DataFrame, catalogue: dict, p: Params, earlier_needed: set[str],
          ranking: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts of the items that count (``catalogue``), weights, who is already supported, and the extraction.
    ``ranking``: the model's risk and reasons per child (25_ranking), carried on the scores."""
    m = items[["person_id", *catalogue, "age"]]
    carried = {}
    if ranking is not None:
        r = ranking.set_index("person_id").reindex(m["person_id"])  # every child looked up once, for every column
        carried = {"model_risk": r["model_risk"].to_numpy(float), "reasons": r["reasons"].fillna("").to_numpy(object)}
        for c in r.columns:
            if c.startswith("risk_"):
                carried[c] = r[c].to_numpy(float)
            elif c.startswith("reasons_"):
                carried[c] = r[c].fillna("").to_numpy(object)
    m = pd.concat([m, pd.DataFrame(carried, index=m.index),
                   kind_counts(items, catalogue, p.ranking.kinds).set_axis(m.index)], axis=1)
    basic = [i for i, it in catalogue.items() if it.get("basic")]
    other = [i for i, it in catalogue.items() if not it.get("basic")]
    m["basic_count"] = m[basic].sum(axis=1).astype(int)
    m["other_count"] = m[other].sum(axis=1).astype(int)
    w = p.indicators.weights
    m["risk_value"] = np.round(weighted_sum(m, list(catalogue), {i: float(w.get(i, 1.0)) for i in catalogue}), 3)
    m = weighted_values(m, catalogue, w)
    sup_items = [i for i in p.extraction.supported_items if i in m]
    m["supported_earlier_decision"] = isin(m["person_id"], earlier_needed)
    m["supported"] = (m[sup_items].sum(axis=1) > 0).to_numpy() | m["supported_earlier_decision"].to_numpy()
    return extract(m, p.extraction, p.ranking.kinds)


def active_catalogue(catalogue: dict, p: Params, survey_items: bool | None = None) -> dict:
    """The items that count in this run's judgement (survey items only when ``indicators.survey_items``)."""
    use = p.indicators.survey_items if survey_items is None else survey_items
    return {k: v for k, v in catalogue.items() if use or not v.get("survey")}


def score_year(p: Params, write: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, dict, pd.DataFrame]:
    """Scores for every child in scope and the extraction; returns (scores, evidence, catalogue, items) with the
    evidence and catalogue of the items that count."""
    items, ev_all, full = saved_items(p)
    catalogue = active_catalogue(full, p)
    ranking = datasets.read(p, "ranking")
    scores = score(items, catalogue, p, previously_needed(p), ranking)
    if p.extraction.ranking == "model" and p.extraction.tier_band and not by_model(scores, p.extraction):
        log.warning("extraction.ranking: model ですが、この年度のモデルがありません (25_ranking を参照)。次点層は件数の順です")
    key = load_key(key_path(p))  # the run checked that it is the out dir's key
    fy = p.fiscal_year
    picked = (scores["group"] != "").to_numpy()
    scores["extract_id"] = pd.Series(None, index=scores.index, dtype="object")
    scores.loc[picked, "extract_id"] = [extract_id(key, fy, x) for x in scores.loc[picked, "person_id"]]
    ev = ev_all[isin(ev_all["item"], list(catalogue))].reset_index(drop=True)
    if write:
        datasets.write(p, "scores", scores)
    n = scores["group"].value_counts().to_dict()
    log.info("判定: 対象 %d 人, 抽出 %s", len(scores), {GROUP_LABEL[k]: v for k, v in n.items() if k})
    return scores, ev, catalogue, items


def risk_and_reasons(scores: pd.DataFrame, catalogue: dict, p: Params) -> dict[str, pd.Series]:
    """リスク値 and 主な理由 of the listed children (per pseudonym): with ``extraction.ranking: model``, the model's
    probability and the features that raised it most; otherwise the counts (基本+その他) and the matched items,
    basic ones first."""
    x = scores[scores["group"] != ""].set_index("person_id")
    need = x["main_need"].map(lambda k: p.ranking.kinds[k].label if k in p.ranking.kinds else "") \
        if "main_need" in x else pd.Series("", index=x.index)
    if by_model(scores, p.extraction):
        risk = x["model_risk"].map(lambda v: f"{v:.3f}" if pd.notna(v) else "")
        reasons = x["reasons"].fillna("").copy()
        for kid in p.ranking.kinds:  # a child of the band: its own kind's model's risk and reasons
            on = (x.get("main_need") == kid).to_numpy() if "main_need" in x else np.zeros(len(x), bool)
            if on.any() and f"risk_{kid}" in x and x.loc[on, f"risk_{kid}"].notna().any():
                risk[on] = x.loc[on, f"risk_{kid}"].map(lambda v: f"{v:.3f}" if pd.notna(v) else "")
                reasons[on] = x.loc[on, f"reasons_{kid}"].fillna("")
        return {"主な課題": need, "リスク値": risk, "主な理由": reasons}
    ids = sorted(catalogue, key=lambda i: (not catalogue[i].get("basic"), i))
    n = p.ranking.reasons
    hits = x[ids].to_numpy() > 0
    names = np.array([f"{i} {catalogue[i]['label']}" for i in ids], dtype=object)
    reasons = ["、".join(names[row][:n]) for row in hits]
    risk = ("基本 " + x["basic_count"].astype(int).astype(str) + " 項目・その他 " + x["other_count"].astype(int).astype(str)
            + " 項目")
    return {"主な課題": need, "リスク値": risk, "主な理由": pd.Series(reasons, index=x.index)}


# --- summaries for the extraction report (no names; counts only) ------------------------------------

def item_prevalence(scores: pd.DataFrame, catalogue: dict) -> pd.DataFrame:
    """How many children in scope match each item."""
    rows = [{"項目": i, "内容": it["label"], "類型": it["type"], "区分": "基本" if it.get("basic") else "その他",
             "該当人数": int(scores[i].sum()), "割合(%)": round(100 * scores[i].mean(), 2)} for i, it in catalogue.items()]
    return pd.DataFrame(rows)


def count_distribution(scores: pd.DataFrame) -> pd.DataFrame:
    """Children by basic-item count × other-item count."""
    return pd.crosstab(scores["basic_count"], scores["other_count"], rownames=["基本項目数"], colnames=["その他項目数"])


def poverty_attendance_overlap(scores: pd.DataFrame, catalogue: dict) -> pd.DataFrame:
    """Children with any poverty item × any non-attendance item."""
    pov = [i for i, it in catalogue.items() if it["type"] == "貧困"]
    att = [i for i, it in catalogue.items() if it["type"] == "不登校"]
    a = scores[pov].sum(axis=1).gt(0).map({True: "貧困の項目あり", False: "貧困の項目なし"})
    b = scores[att].sum(axis=1).gt(0).map({True: "不登校の項目あり", False: "不登校の項目なし"})
    return pd.crosstab(a, b)


def list_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """List size per group, ties at the cut-off, and how many were already supported."""
    x = scores[scores["group"] != ""]
    t = x.groupby("group").agg(人数=("person_id", "size"), 同順位で追加=("cutoff_tie", "sum"), 既に支援あり=("supported", "sum"))
    t["既に支援あり(%)"] = (100 * t["既に支援あり"] / t["人数"]).round(1)
    return t.rename(index=GROUP_LABEL).reset_index().rename(columns={"group": "グループ"})


def survey_effect(p: Params, items: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame | None:
    """How the list changes when the lifestyle survey's items S01–S05 count (or stop counting): children who
    enter and leave each group, from the same items (no second pass over the data). ``None`` when the year has
    no survey."""
    full = load_catalogue(p, every_item=True)
    survey_ids = [i for i, it in full.items() if it.get("survey")]
    if not survey_ids or not items[survey_ids].to_numpy().any():
        return None
    on = p.indicators.survey_items
    alt = score(items, active_catalogue(full, p, survey_items=not on), p, previously_needed(p))
    with_s, without = (scores, alt) if on else (alt, scores)
    rows = []
    for g in ("basic", "other", "tier"):
        a = set(without.loc[without["group"] == g, "person_id"])
        b = set(with_s.loc[with_s["group"] == g, "person_id"])
        if a or b:
            rows.append({"グループ": GROUP_LABEL[g], "調査項目なし": len(a), "調査項目あり": len(b),
                         "調査項目で加わったこども": len(b - a), "調査項目で外れたこども": len(a - b)})
    t = pd.DataFrame(rows)
    t.attrs["survey_items_in_this_run"] = on
    return t
