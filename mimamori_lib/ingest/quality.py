"""Data-quality tables of an ingestion run, in Japanese, for the ingestion report (10_ingest)."""

from __future__ import annotations

import pandas as pd

from ..catalogue.registry import load_registry
from ..params import Params
from . import IngestResult

STATUS_JA = {"loaded": "取込済", "missing": "ファイルなし", "absent": "対象外 (任意)", "error": "読込不可"}


def overview(res: IngestResult) -> pd.DataFrame:
    """One row per file: department, contents, status, rows read / loaded / quarantined, refused columns."""
    rows = []
    for r in res.sources.values():
        rows.append({
            "部署": r.department, "ファイル": r.path, "内容": r.title, "状態": STATUS_JA.get(r.status, r.status),
            "読込行数": r.rows_read, "取込行数": r.rows_loaded, "隔離行数": r.rows_quarantined,
            "隔離率(%)": round(100 * r.rows_quarantined / r.rows_read, 2) if r.rows_read else 0.0,
            "読み込まない列": "・".join(r.columns_refused), "メッセージ": r.message, "警告": r.warning,
        })
    return pd.DataFrame(rows)


def not_loaded(res: IngestResult) -> pd.DataFrame:
    """Files that could not be used, with the reason."""
    o = overview(res)
    return o[o["状態"].isin([STATUS_JA["missing"], STATUS_JA["error"]])][["部署", "ファイル", "状態", "メッセージ"]]


def shrink_warnings(res: IngestResult) -> pd.DataFrame | str:
    """Files with markedly fewer rows than last year or than the children they should cover."""
    rows = [{"ファイル": r.path, "内容": r.title, "読込行数": r.rows_read, "警告": r.warning} for r in res.sources.values() if r.warning]
    return pd.DataFrame(rows) if rows else "前年度・対象人数と比べて行数が大きく減ったファイルはありません。"


def quarantine_reasons(res: IngestResult) -> pd.DataFrame:
    """Quarantined rows by file, column and reason (counts only; no values)."""
    q = res.quarantine()
    if q.empty:
        return pd.DataFrame(columns=["ファイル", "列", "理由", "件数"])
    t = q.groupby(["source", "column", "reason"]).size().rename("件数").reset_index()
    return t.rename(columns={"source": "ファイル", "column": "列", "reason": "理由"}).sort_values(
        ["ファイル", "件数"], ascending=[True, False]).reset_index(drop=True)


def missing_rates(res: IngestResult) -> pd.DataFrame:
    """Share of loaded rows with each column blank (or, for survey answers, out of range)."""
    rows = []
    for r in res.sources.values():
        for col, n in r.missing.items():
            rows.append({"ファイル": r.path, "列": col, "欠損件数": n,
                         "欠損率(%)": round(100 * n / r.rows_loaded, 1) if r.rows_loaded else None})
    return pd.DataFrame(rows, columns=["ファイル", "列", "欠損件数", "欠損率(%)"])


def code_distributions(res: IngestResult, p: Params) -> pd.DataFrame:
    """Counts of each listed code in the loaded (non-identifying) code columns."""
    registry = load_registry(p)
    rows = []
    for sid, r in res.sources.items():
        if r.table is None:
            continue
        for header, c in registry[sid]["columns"].items():
            if c["type"] != "code" or c.get("identity") or c["name"] not in r.table.columns:
                continue
            vc = r.table[c["name"]].fillna("(欠損)").value_counts()
            labels = {str(k): str(v) for k, v in c.get("labels", {}).items()}
            for code, n in vc.items():
                rows.append({"ファイル": r.path, "列": header, "値": labels.get(code, code), "件数": int(n)})
    return pd.DataFrame(rows, columns=["ファイル", "列", "値", "件数"])
