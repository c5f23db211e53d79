"""Accuracy against the synthetic city's truth — for tests, benchmarks and the cells marked 「合成データのみ」.
The pipeline itself never reads the truth."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..params import Params
from .marker import truth_root


def truth_dir(p: Params) -> Path | None:
    """The truth folder of the run's year, if the raw folder is a marked synthetic city (``None`` otherwise)."""
    base = truth_root(p.raw_dir)
    d = base / p.fy if base else None
    return d if d is not None and (d / "rows.csv").exists() else None


def linkage_accuracy(links: pd.DataFrame, identity: pd.DataFrame, truth: Path) -> dict:
    """Precision, recall and F1 of the links (auto + reviewed), merged twins, and truly-absent children linked."""
    rows = pd.read_csv(truth / "rows.csv", dtype=str, keep_default_na=False)
    rows["row"] = rows["row"].astype(int)
    kids = pd.read_csv(truth / "children.csv", dtype=str, keep_default_na=False)
    reg = identity[identity["atena_no"].notna() & identity["person_id"].notna()]  # only the registry holds both
    to_atena = reg.drop_duplicates("person_id").set_index("person_id")["atena_no"]
    m = links.merge(rows[["source", "row", "atena_no"]].rename(columns={"atena_no": "true"}), on=["source", "row"], how="left")
    m["true"] = m["true"].fillna("")
    m["pred"] = m["person_id"].map(to_atena).fillna("")
    linked = m["status"].isin(["auto", "reviewed"]) & (m["pred"] != "")
    tp = int((linked & (m["pred"] == m["true"])).sum())
    fp = int((linked & (m["pred"] != m["true"])).sum())
    fn = int(((m["true"] != "") & ~(linked & (m["pred"] == m["true"]))).sum())
    twins = set(kids.loc[kids["twin"] == "True", "atena_no"])
    merged_twins = int((linked & (m["pred"] != m["true"]) & m["true"].isin(twins) & m["pred"].isin(twins)).sum())
    absent = m["true"] == ""
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"records": len(m), "true_links": int((m["true"] != "").sum()), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 5), "recall": round(recall, 5),
            "f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0,
            "merged_twins": merged_twins, "absent_records": int(absent.sum()),
            "absent_linked": int((absent & linked).sum()), "in_review": int((m["status"] == "review").sum())}
