"""Indicators: one row per child in scope with every item of the catalogue (params/indicators.yaml).

Each item is data: a source, a pandas query (the rule), a level (the child itself, the child's household, or an
adult of the household) and what to show as evidence. School-network rows reach a child through the links of
名寄せ (automatic or staff-confirmed only). The evidence table keeps, per child and item, the department's row,
date and values, so that staff can see exactly why a child is on the list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue.ages import SCOPE_AGES, age_on
from ..catalogue.registry import load_registry, role_source
from ..catalogue.tables import read_table
from ..catalogue.vocabulary import ADULT_AGE
from ..errors import InputError
from ..params import Params, read_data_file

log = logging.getLogger(__name__)
LINKED = ("auto", "reviewed")
PARENT_GAP = (14, 55)  # an adult of the parents' generation: this many years older than the child


def load_catalogue(p: Params, every_item: bool = False) -> dict[str, dict]:
    """The catalogue named in params: the items that count in the judgement (survey items only when
    ``indicators.survey_items`` is true), or ``every_item``."""
    cat = read_data_file(p.indicators.catalogue)
    use_survey = p.indicators.survey_items or every_item
    return {k: {**v, "id": k, "window_months": cat.get("window_months", 12)}
            for k, v in cat["items"].items() if use_survey or not v.get("survey")}


def registry(p: Params) -> pd.DataFrame:
    """The registry's analysis table with ages on the reference date."""
    juki = read_table(p, role_source(p, "registry"))
    if juki is None:
        raise InputError(f"住民基本台帳が取り込まれていません: {p.processed} (先に 10_ingest を実行してください)")
    juki = juki.copy()
    juki["age"] = age_on(juki["birth_date"], p.reference_date)
    return juki


def children_in_scope(juki: pd.DataFrame) -> pd.DataFrame:
    """Everyone aged 0–18 (``SCOPE_AGES``) on the reference date on the registry."""
    return juki[juki["age"].between(*SCOPE_AGES)][["person_id", "household_id", "birth_date", "age", "sex"]].reset_index(drop=True)


def source_rows(p: Params, source: str, links: pd.DataFrame | None) -> pd.DataFrame | None:
    """A processed source table with ``person_id`` for every row (via 名寄せ for school-network files)."""
    t = read_table(p, source)
    if t is None:
        return None
    spec = load_registry(p)[source]
    if "person_id" not in t.columns:
        if links is None:
            return None
        lk = links[(links["source"] == spec["path"]).to_numpy() & isin(links["status"], LINKED)][["row", "person_id"]]
        t = t.merge(lk, on="row", how="inner")
    return t.assign(_source=spec["path"], _department=spec.get("department", ""))


def _query(t: pd.DataFrame, rule: str | None, p: Params, item: dict) -> pd.Series:
    if not rule:
        return pd.Series(True, index=t.index)
    ref = pd.Timestamp(p.reference_date)
    window_start = ref - pd.DateOffset(months=int(item.get("window_months", 12)))
    local = {"ref": ref, "window_start": window_start, **item.get("vars", {})}  # vars: e.g. @prev_ref of an outcome
    return t.eval(rule, engine="python", local_dict=local).astype(bool)


def _describe(t: pd.DataFrame, cols: list[str], labels: dict[str, str]) -> pd.Series:
    parts = []
    for c in cols:
        if c in t.columns:
            v = t[c]
            v = v.dt.strftime("%Y-%m-%d") if pd.api.types.is_datetime64_any_dtype(v) else v.astype("string")
            parts.append(labels.get(c, c) + "=" + v.fillna("空欄"))
    if not parts:
        return pd.Series("", index=t.index)
    out = parts[0]
    for s in parts[1:]:
        out = out + ", " + s
    return out


def evidence(p: Params, catalogue: dict, juki: pd.DataFrame, links: pd.DataFrame | None) -> pd.DataFrame:
    """Long table: child ``person_id``, item, matched (or near), department, source, row, date, detail."""
    scope = children_in_scope(juki)
    kids_by_household = scope[["person_id", "household_id", "age"]]
    adults = juki[juki["age"] >= ADULT_AGE][["person_id", "household_id", "age"]]
    in_scope = scope["person_id"]
    reg = load_registry(p)
    frames = []
    cache: dict[str, pd.DataFrame | None] = {}
    scoped: dict[str, np.ndarray] = {}  # per source: which rows are a child in scope's own (found once)
    for iid, item in catalogue.items():
        src = item["source"]
        if src not in cache:
            cache[src] = source_rows(p, src, links)
        t = cache[src]
        if t is None:
            log.warning("%s: %s が取り込まれていないため判定できません", iid, src)
            continue
        labels = {c["name"]: h for h, c in reg[src]["columns"].items()}
        for kind, rule, min_rows in (("match", item.get("rule"), int(item.get("min_rows", 1))),
                                     ("near", item.get("near"), int(item.get("near_min_rows", 0)) or 1)):
            if kind == "near" and not item.get("near") and not item.get("near_min_rows"):
                continue
            if kind == "near" and not rule:
                rule = item.get("rule")
            level = item.get("level", "person")
            rows = _query(t, rule, p, item).to_numpy()
            if level == "person":  # a household's or a parent's fact reaches the children in scope through the registry
                if src not in scoped:
                    scoped[src] = isin(t["person_id"], in_scope)
                rows = rows & scoped[src]
            hit = t[rows]
            if hit.empty:
                continue
            e = pd.DataFrame({"holder": hit["person_id"].to_numpy(), "source": hit["_source"].to_numpy(),
                              "department": hit["_department"].to_numpy(), "row": hit["row"].to_numpy(),
                              "date": pd.to_datetime(hit[item["date"]]).to_numpy() if item.get("date") else pd.NaT,
                              "detail": _describe(hit, item.get("show", []), labels).to_numpy()})
            if level == "person":
                e["person_id"] = e["holder"]
            else:
                holders = juki[["person_id", "household_id"]] if level == "household" else adults
                e = e.merge(holders.rename(columns={"person_id": "holder", "age": "holder_age"}), on="holder")
                e = e.merge(kids_by_household, on="household_id")
                if level == "household_parent":  # an adult of the parents' generation (14–55 years older)
                    gap = e["holder_age"] - e["age"]
                    e = e[(e["person_id"] != e["holder"]) & gap.between(*PARENT_GAP)]
                e = e.drop(columns=[c for c in ("household_id", "holder_age", "age") if c in e.columns])
            # one line per fact: a household's 生活保護 is one row per member in the department's file
            e = e.drop_duplicates(["person_id", "date", "detail"])
            counts = e.groupby("person_id")["row"].transform("size")
            e = e[counts >= min_rows]
            e.insert(0, "kind", kind)
            e.insert(0, "item", iid)
            frames.append(e)
    cols = ["item", "kind", "person_id", "holder", "department", "source", "row", "date", "detail"]
    ev = pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
    # "near" only where the item itself is not matched
    pair = ev["item"].astype(str) + "|" + ev["person_id"].astype(str)
    matched = pair[(ev["kind"] == "match").to_numpy()]
    keep = (ev["kind"] != "near").to_numpy() | ~isin(pair, matched)
    return ev[keep].reset_index(drop=True)


def weighted_sum(m: pd.DataFrame | Mapping[str, np.ndarray], items: list[str], w: dict[str, float],
                 rows: int | None = None) -> np.ndarray:
    """Σ item × weight per row of ``m`` (a frame, or ``rows`` long columns by name), added item by item in the order
    given (the same sums, to the last bit, whatever the frame's size: no pandas Series per item)."""
    total = np.zeros(len(m) if rows is None else rows)
    for i in items:
        total += np.asarray(m[i], dtype=float) * w[i]
    return total


def item_matrix(scope: pd.DataFrame, ev: pd.DataFrame, catalogue: dict, weights: dict | None = None) -> pd.DataFrame:
    """One row per child in scope: each item 0/1, basic and other counts, and the weighted risk value."""
    m = ev[(ev["kind"] == "match").to_numpy()].drop_duplicates(["item", "person_id"])
    index = pd.Index(scope["person_id"])
    pos = index.get_indexer(m["person_id"])  # each match's child, once for every item
    items = m["item"].to_numpy()
    cols: dict[str, np.ndarray] = {}
    for iid in catalogue:
        col = np.zeros(len(scope), dtype=int)
        at = pos[(items == iid) & (pos >= 0)]
        col[at] = 1
        cols[iid] = col
    basic = [i for i, it in catalogue.items() if it.get("basic")]
    other = [i for i, it in catalogue.items() if not it.get("basic")]
    zero = np.zeros(len(scope), dtype=int)
    cols["basic_count"] = sum((cols[i] for i in basic), start=zero).astype(int)
    cols["other_count"] = sum((cols[i] for i in other), start=zero).astype(int)
    w = weights or {}
    cols["risk_value"] = np.round(weighted_sum(cols, list(catalogue), {i: float(w.get(i, 1.0)) for i in catalogue},
                                               len(scope)), 3)
    # one frame made at once (a column added at a time makes pandas copy the whole block again and again)
    return pd.concat([scope[["person_id"]], pd.DataFrame(cols, index=scope.index)], axis=1)


def parents_in_household(juki: pd.DataFrame) -> pd.Series:
    """Per child in scope (``person_id``): how many adults of the parents' generation (14–55 years older, the same
    rule as ``household_parent`` items) live in the household — 1 means a one-parent household on the registry."""
    scope = children_in_scope(juki)[["person_id", "household_id", "age"]]
    adults = juki[juki["age"] >= ADULT_AGE][["person_id", "household_id", "age"]].rename(columns={"person_id": "adult", "age": "adult_age"})
    m = scope.merge(adults, on="household_id")
    m = m[(m["adult_age"] - m["age"]).between(*PARENT_GAP)]
    return m.groupby("person_id")["adult"].nunique().reindex(scope["person_id"]).fillna(0).astype(int)
