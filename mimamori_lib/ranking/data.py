"""What the ranking reads for a year: every child in scope with that year's items and 'near' flags, who was already
supported, the groups of the fairness audit; and the outcomes seen in the next year's exports. Children are
followed from one year to the next by their keyed pseudonym (the same key, the same pseudonym)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.ages import age_band
from ..catalogue.registry import code_for, code_labels
from ..judgement.indicators import children_in_scope, evidence, item_matrix, parents_in_household, registry
from ..judgement.scoring import previously_needed
from ..params import Params

log = logging.getLogger(__name__)
ATTRIBUTES = {"sex": "性別", "foreign": "外国籍", "single_parent": "ひとり親世帯", "disability": "障害 (手帳・通所支援)",
              "age_band": "年齢"}
DISABILITY_ITEMS = ("N04", "N05")


def near_items(catalogue: dict) -> list[str]:
    """Items with a 'near the threshold' rule (their near flags are features)."""
    return [i for i, it in catalogue.items() if it.get("near") or it.get("near_min_rows")]


def year_frame(p: Params, items: pd.DataFrame, ev: pd.DataFrame, catalogue: dict,
               judged_earlier: set[str] | None = None) -> pd.DataFrame:
    """One row per child in scope: the items, ``near_<item>`` flags, household features, ``supported`` (as the
    extraction defines it: a supporting item, or judged 要 at an earlier year's meeting — ``judged_earlier``, by
    default read from the earlier years' decisions) and the audit's groups (sex, foreign, single_parent, disability,
    age_band). Sorted by pseudonym, so that the same data give the same rows in the same order."""
    f = items.sort_values("person_id", kind="stable").reset_index(drop=True)
    near = ev[(ev["kind"] == "near").to_numpy()]
    flags = {f"near_{iid}": isin(f["person_id"], near.loc[(near["item"] == iid).to_numpy(), "person_id"]).astype(int)
             for iid in near_items(catalogue)}
    f = pd.concat([f, pd.DataFrame(flags, index=f.index)], axis=1)  # at once: not a copy of the frame per column
    basic = [i for i, it in catalogue.items() if it.get("basic") and i in f]
    any_basic = f[basic].sum(axis=1).gt(0).astype(int)
    hh_kids = f.groupby("household_id")["person_id"].transform("size")
    hh_basic = any_basic.groupby(f["household_id"]).transform("sum")
    f["hh_3plus_children"] = (hh_kids >= 3).astype(int)
    f["sibling_basic"] = (hh_basic - any_basic).gt(0).astype(int)
    sup = [i for i in p.extraction.supported_items if i in f]
    needed = previously_needed(p) if judged_earlier is None else judged_earlier
    f["supported"] = f[sup].sum(axis=1).gt(0).to_numpy() | isin(f["person_id"], needed)
    juki = registry(p)
    reg = juki.drop_duplicates("person_id").set_index("person_id")
    f["sex"] = reg["sex"].reindex(f["person_id"]).map(code_labels(p, "sex")).fillna("不明").to_numpy()
    foreign = code_for(p, "nationality", "外国")
    f["foreign"] = np.where(reg["nationality"].reindex(f["person_id"]).to_numpy() == foreign, "外国籍", "日本国籍")
    parents = parents_in_household(juki).reindex(f["person_id"]).fillna(0).to_numpy()
    f["single_parent"] = np.where(parents == 1, "ひとり親世帯", "その他の世帯")
    dis = [i for i in DISABILITY_ITEMS if i in f]
    f["disability"] = np.where(f[dis].sum(axis=1).gt(0), "障害あり", "障害なし")
    f["age_band"] = age_band(f["age"]).fillna("不明").to_numpy()
    return f


def saved_year_frame(p: Params, catalogue: dict) -> pd.DataFrame | None:
    """The frame of a year whose 25_ranking has run (its ``items.parquet`` and ``evidence.parquet``); ``None`` if
    that year has not been run."""
    items, ev = datasets.read(p, "items"), datasets.read(p, "evidence")
    if items is None or ev is None:
        return None
    return year_frame(p, items, ev, catalogue)


def outcome_catalogue(p_prev: Params, p_next: Params) -> dict:
    """The outcomes as catalogue entries, with @prev_ref set to the judged year's reference date."""
    prev_ref = pd.Timestamp(p_prev.reference_date)
    return {oid: {"id": oid, "label": o.label, "source": o.source, "level": o.level, "rule": o.rule, "basic": True,
                  "vars": {"prev_ref": prev_ref}} for oid, o in p_next.ranking.outcomes.items()}


def _matches(p: Params, catalogue: dict) -> pd.DataFrame:
    """Children in scope at ``p`` with each entry of ``catalogue`` 0/1."""
    juki = registry(p)
    links = datasets.read(p, "links")
    ev = evidence(p, catalogue, juki, links)
    return item_matrix(children_in_scope(juki), ev, catalogue)[["person_id", *catalogue]]


def outcomes(p_prev: Params, p_next: Params) -> pd.DataFrame:
    """Every child in scope in the next year with each outcome 0/1 and ``hit`` (any of them). An outcome marked
    ``new`` does not count for a child who already satisfied its rule in the judged year."""
    cat = outcome_catalogue(p_prev, p_next)
    out = _matches(p_next, cat)
    new = {k: v for k, v in cat.items() if p_next.ranking.outcomes[k].new}
    if new:
        before = _matches(p_prev, new).set_index("person_id")
        for oid in new:
            had = before[oid].reindex(out["person_id"]).fillna(0).to_numpy() > 0
            out.loc[had, oid] = 0
    out["hit"] = out[list(cat)].max(axis=1).astype(int) if cat else 0
    return out


def judged_pair(prev: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """The judged year's children who are still in scope the next year, with ``y``: not supported in the judged
    year and an outcome the next year (a child already supported cannot be a 'find')."""
    f = prev[isin(prev["person_id"], out["person_id"])].reset_index(drop=True)
    o = out.set_index("person_id").reindex(f["person_id"]).fillna(0)
    not_sup = ~f["supported"].to_numpy(bool)
    new = {f"o_{c}": ((o[c].to_numpy() > 0) & not_sup).astype(int) for c in out.columns.drop(["person_id", "hit"])}
    new["y"] = ((o["hit"].to_numpy() > 0) & not_sup).astype(int)
    return pd.concat([f, pd.DataFrame(new, index=f.index)], axis=1)
