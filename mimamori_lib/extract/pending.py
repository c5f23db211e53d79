"""What the judgement could not see: school records waiting for 名寄せ review (and those with no candidate), what
each pending pair would add to its candidate child, and whether confirming it would change the list.

A school record reaches a child only through 名寄せ; until staff confirm a pending pair, its items (absence, 就学援助,
給食費未納 …) are not counted. For every pending pair this module evaluates the catalogue's rules on the record, adds
the items to the candidate child, and places the child against the current list's cut-offs: would the child enter a
group (or move between groups), move up within its group, or not change the list at all? The review queue is
ordered by that impact, the extraction list flags listed children with pending records, and the run reports how
many records wait, how many found no candidate, and how many children's place could change.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..catalogue.tables import read_table
from ..judgement.indicators import _query, load_catalogue
from ..judgement.scoring import GROUP_LABEL
from ..params import Extraction, Params

log = logging.getLogger(__name__)
IMPACT = {3: "抽出グループが変わる", 2: "グループ内の順位が上がる", 1: "項目は加わるが抽出は変わらない", 0: "加わる項目なし"}


def pending_pairs(p: Params) -> pd.DataFrame:
    """Pairs waiting for staff (record: source, row; candidate child: person_id), as 20_link saved them."""
    pairs = datasets.read(p, "review_pairs")
    return pairs if pairs is not None else pd.DataFrame(columns=["source", "row", "person_id", "match_probability",
                                                                   "match_weight"])


def record_items(p: Params, catalogue: dict, pairs: pd.DataFrame) -> pd.DataFrame:
    """The items (match, not near) each pending record would bring: (source, row, item). Only person-level items of
    school-network sources can come from a school record."""
    reg = load_registry(p)
    out = []
    by_path = {spec["path"]: sid for sid, spec in reg.items()}
    for path, rows in pairs.groupby("source")["row"]:
        sid = by_path.get(path)
        t = read_table(p, sid) if sid else None
        if t is None:
            continue
        t = t[isin(t["row"], rows.unique())]
        for iid, item in catalogue.items():
            if item["source"] != sid or item.get("level", "person") != "person":
                continue
            hit = t[_query(t, item.get("rule"), p, item).to_numpy()]
            out.append(pd.DataFrame({"source": path, "row": hit["row"].to_numpy(), "item": iid}))
    cols = ["source", "row", "item"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def _keys(df: pd.DataFrame, first: str, second: str) -> np.ndarray:
    return df[first].to_numpy(dtype=float) * 1e6 + df[second].to_numpy(dtype=float)


def _cutoff(scores: pd.DataFrame, group: str, first: str, second: str) -> tuple[float, int]:
    """The lowest key inside a group and its size."""
    g = scores[(scores["group"] == group).to_numpy()]
    return (float(_keys(g, first, second).min()) if len(g) else -np.inf), len(g)


def place(scores: pd.DataFrame, ex: Extraction) -> dict:
    """The current list's cut-offs: what a child needs to enter each group."""
    plan = {"basic": ("basic_value", "other_value", "basic_count", ex.top_basic),
            "other": ("other_value", "basic_value", "other_count", ex.top_other),
            "tier": ("basic_value", "other_value", None, ex.tier_band)}
    out = {}
    for g, (first, second, count, n) in plan.items():
        low, size = _cutoff(scores, g, first, second)
        out[g] = {"first": first, "second": second, "count": count, "n": n, "low": low if size >= n else -np.inf,
                  "keys": np.sort(_keys(scores[(scores["group"] == g).to_numpy()], first, second))[::-1]}
    return out


def _group_of(row: pd.Series, cut: dict, ex: Extraction) -> tuple[str, int | None]:
    """The group (and rank) a child with these values would take against the current cut-offs."""
    for g in ("basic", "other", "tier"):
        c = cut[g]
        if c["n"] <= 0:
            continue
        if g != "tier" and ex.exclude_supported and row["supported"]:
            continue
        if g == "tier" and (row["supported"] or row["basic_count"] + row["other_count"] < ex.min_count):
            continue
        if c["count"] and row[c["count"]] < ex.min_count:
            continue
        key = row[c["first"]] * 1e6 + row[c["second"]]
        if key > c["low"] or (key == c["low"] and ex.ties == "include"):
            others = c["keys"][c["keys"] != key] if row.get("group") == g else c["keys"]
            return g, int((others > key).sum()) + 1
    return "", None


def impact(p: Params, scores: pd.DataFrame, pairs: pd.DataFrame, catalogue: dict | None = None) -> pd.DataFrame:
    """For every pending pair: the items confirming it would add to the candidate child, the child's group and rank
    now and then, an impact level (3 group changes, 2 moves up, 1 items but no change, 0 nothing) and a sentence."""
    cols = ["source", "row", "person_id", "items", "group_now", "rank_now", "group_then", "rank_then", "impact", "why"]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    catalogue = catalogue or load_catalogue(p)
    added = record_items(p, catalogue, pairs)
    cut = place(scores, p.extraction)
    s = scores.set_index("person_id")
    rows = []
    by_record = added.groupby(["source", "row"])["item"].agg(lambda x: sorted(set(x)))
    for r in pairs.itertuples():
        items = by_record.get((r.source, r.row), [])
        if r.person_id not in s.index:
            continue
        now = s.loc[r.person_id]
        new_items = [i for i in items if i in catalogue and not now.get(i, 0)]
        child = now.copy()
        for i in new_items:
            child[i] = 1
            w = float(p.indicators.weights.get(i, 1.0))
            if catalogue[i].get("basic"):
                child["basic_count"] += 1
                child["basic_value"] += w
            else:
                child["other_count"] += 1
                child["other_value"] += w
        g_now, r_now = now["group"], (int(now["rank"]) if pd.notna(now["rank"]) else None)
        g_then, r_then = _group_of(child, cut, p.extraction) if new_items else (g_now, r_now)
        if g_then != g_now and not (g_then == "" and g_now != ""):
            level = 3
        elif g_then == g_now and g_now and r_then is not None and r_now is not None and r_then < r_now:
            level = 2
        elif new_items:
            level = 1
        else:
            level = 0
        if g_then == "" and g_now:
            g_then, r_then = g_now, r_now  # adding items never removes a child from the list
        labels = "、".join(f"{i} {catalogue[i]['label']}" for i in new_items)
        why = {3: f"確認すると{GROUP_LABEL.get(g_then, '')}に入ります ({r_then}位)", 2: f"確認すると順位が {r_now}位 → {r_then}位",
               1: "項目は加わりますが抽出は変わりません", 0: "加わる項目はありません"}[level]
        rows.append({"source": r.source, "row": int(r.row), "person_id": r.person_id, "items": labels,
                     "group_now": g_now, "rank_now": r_now, "group_then": g_then, "rank_then": r_then, "impact": level,
                     "why": f"{why}: {labels}" if labels else why})
    return pd.DataFrame(rows, columns=cols)


def flags(scores: pd.DataFrame, imp: pd.DataFrame) -> pd.Series:
    """Per listed child, the pending school records and the items at stake (「確認待ちの学校記録あり」)."""
    listed = set(scores.loc[scores["group"] != "", "person_id"])
    x = imp[isin(imp["person_id"], listed)]
    if x.empty:
        return pd.Series(dtype="string")
    return x.groupby("person_id").apply(
        lambda g: f"確認待ちの学校記録あり ({len(g)} 件){': ' + '、'.join(sorted({i for s in g['items'] for i in s.split('、') if i}))}"
        if (g["items"] != "").any() else f"確認待ちの学校記録あり ({len(g)} 件)", include_groups=False)


def summary(links: pd.DataFrame | None, imp: pd.DataFrame) -> dict:
    """Counts for the report and the run summary: records pending, records with no candidate, pairs and children
    whose place in the list could change."""
    out = {"records_pending": 0, "records_unmatched": 0, "pairs_pending": len(imp),
           "pairs_changing_list": int((imp["impact"] >= 2).sum()) if len(imp) else 0,
           "children_group_could_change": int(imp.loc[imp["impact"] == 3, "person_id"].nunique()) if len(imp) else 0}
    if links is not None:
        out["records_pending"] = int((links["status"] == "review").sum())
        out["records_unmatched"] = int((links["status"] == "unmatched").sum())
    return out


def summary_table(s: dict) -> pd.DataFrame:
    """The counts in Japanese, for the 30_extract report."""
    labels = {"records_pending": "名寄せの確認待ちの記録", "records_unmatched": "候補が見つからなかった記録",
              "pairs_pending": "確認待ちの組 (記録 × 候補のこども)", "pairs_changing_list": "確認すると抽出が変わる組",
              "children_group_could_change": "抽出グループが変わりうるこども"}
    return pd.DataFrame({"件数": [s[k] for k in labels]}, index=list(labels.values()))


def impact_counts(imp: pd.DataFrame) -> pd.DataFrame | str:
    """Pending pairs by impact (counts only)."""
    if imp.empty:
        return "確認待ちの組はありません。"
    t = imp["impact"].value_counts().reindex([3, 2, 1, 0], fill_value=0)
    return pd.DataFrame({"組数": t.to_numpy()}, index=[IMPACT[k] for k in t.index])


def ordered_queue(imp: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The review queue's pairs, those that change the list first, with the columns staff see."""
    if imp.empty:
        return pd.DataFrame(columns=["source", "row", "unique_id_l", "影響", "確認すると加わる項目"])
    m = imp.merge(pairs[["source", "row", "person_id", "match_probability"]], on=["source", "row", "person_id"])
    m = m.sort_values(["impact", "match_probability"], ascending=[False, False], kind="stable")
    return pd.DataFrame({"source": m["source"], "row": m["row"], "unique_id_l": m["person_id"],
                         "影響": m["impact"].map(IMPACT) + " — " + m["why"], "確認すると加わる項目": m["items"]})
