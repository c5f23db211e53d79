"""Demo helper: answer the 名寄せ review queue from the synthetic truth, as staff would after checking each pair.
Writes ``<raw>/<fy>/linkage/review_decisions.csv``; the next run applies it. Real cities never run this."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from ..paths import fy_dir


def fill_review(raw: Path, truth: Path, internal: Path, fy: int) -> Path:
    """一致 where the queued candidate is the record's true child, 不一致 otherwise."""
    ws = load_workbook(internal / "review_queue.xlsx", read_only=True)["要確認"]
    rows = list(ws.iter_rows(values_only=True))
    q = pd.DataFrame(rows[1:], columns=rows[0])[["ファイル", "行", "宛名番号"]].dropna(subset=["ファイル"])
    t = pd.read_csv(truth / fy_dir(fy) / "rows.csv", dtype=str, keep_default_na=False)
    t["row"] = t["row"].astype(int)
    truth_rows = t[["source", "row", "atena_no"]].rename(columns={"atena_no": "atena_no_true"})
    m = q.merge(truth_rows, left_on=["ファイル", "行"], right_on=["source", "row"], how="left")
    out = pd.DataFrame({"source": m["ファイル"], "row": m["行"].astype(int), "atena_no": m["宛名番号"],
                        "判定": ["一致" if a == b else "不一致" for a, b in zip(m["宛名番号"], m["atena_no_true"], strict=True)]})
    f = raw / fy_dir(fy) / "linkage" / "review_decisions.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(f, index=False, encoding="utf-8-sig")
    return f
