"""Process indicators of a year: files received and loaded, rows read and quarantined, 名寄せ rate and review queue,
run time — counts of files and rows and rates, never counts of children."""

from __future__ import annotations

import pandas as pd

from .. import disclosure
from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..params import Params


def process_indicators(p: Params) -> dict:
    """Sources loaded, rows quarantined, linkage rate, review queue size, run time."""
    s = datasets.read(p, "ingest_summary")
    r = datasets.read(p, "linkage_rates")
    out = {"fy": p.fiscal_year}
    if s is not None:
        paths = {spec["path"]: spec.get("department") for spec in load_registry(p).values()}
        loaded = s.loc[s["status"] == "loaded", "source"]
        out["departments"] = len({paths.get(x) for x in loaded} - {None})
        out.update(sources=len(s), sources_loaded=int((s["status"] == "loaded").sum()),
                   rows_read=int(pd.to_numeric(s["rows_read"]).sum()), rows_quarantined=int(pd.to_numeric(s["rows_quarantined"]).sum()))
    if r is not None and len(r):
        for c in ("auto", "reviewed", "review", "unmatched", "records"):
            r[c] = pd.to_numeric(r[c])
        out.update(linkage_rate=round(float((r["auto"] + r["reviewed"]).sum() / r["records"].sum()), 4),
                   review_queue=int(r["review"].sum()))
    secs = step_seconds(datasets.read(p, "run_manifest"))
    if secs is not None:
        out["run_seconds"] = secs
    return out



def step_seconds(manifest: dict | None) -> float | None:
    """Seconds of the year's steps as last run (from the run manifest)."""
    steps = (manifest or {}).get("steps", {})
    secs = [s.get("seconds") for s in steps.values() if s.get("outcome") in ("ran", "skipped")]
    return round(sum(x for x in secs if x), 1) if secs else None


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


