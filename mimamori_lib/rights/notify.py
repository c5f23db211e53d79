"""After a correction (第97条): whom to tell. ``reports/internal/<fy>/teisei_tsuchi.xlsx`` lists, per correction
applied, the papers already given that carried the corrected source before the correction took effect — from the
提供記録 — with their recipients; and the rows of the request files that could not be used, by row and reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..output.workbook import PRIVATE_NOTE, PrintedAs, table_sheet, with_notes
from ..params import Params
from ..records import ledger
from .apply import APPLIED
from .requests import PROBLEM_COLUMNS, Problem

NOTICE_COLUMNS = ["受付番号", "資料", "行", "項目", "決定日", "書類", "ファイル", "提供先", "作成日時"]


def problem_table(p: Params, problems: list[Problem]) -> pd.DataFrame:
    """The request rows set aside (file, row, 受付番号, column, reason: never a value)."""
    corrections = next((f.name for f in datasets.saved_files(p, "corrections")), "teisei")
    rows = [{"file": x.file or corrections, "row": x.row, "receipt": x.receipt, "column": x.column, "reason": x.reason,
             "source": x.source, "line": x.line} for x in problems]
    return pd.DataFrame(rows, columns=PROBLEM_COLUMNS).astype({"line": "Int64"})


def notices_table(p: Params, corrections: pd.DataFrame) -> pd.DataFrame:
    """Per correction applied, each paper given before it took effect that carried its source."""
    applied = corrections[corrections["status"] == APPLIED] if len(corrections) else corrections
    if applied.empty:
        return pd.DataFrame(columns=NOTICE_COLUMNS)
    source_of = {s["path"]: sid for sid, s in load_registry(p).items()}
    papers = ledger.read(p)
    rows = []
    for c in applied.itertuples():
        sid = source_of.get(c.path)
        given = papers[papers["person_ids"].map(lambda ids, pid=c.person_id: pid in ids)
                       & papers["sources"].map(lambda s, sid=sid: sid in s)
                       & (pd.to_datetime(papers["recorded_at"]) < pd.Timestamp(c.applied_at))] if len(papers) else papers
        for g in given.itertuples():
            rows.append({"受付番号": c.receipt, "資料": c.path, "行": c.line, "項目": c.item,
                         "決定日": pd.Timestamp(c.decided_on).date(), "書類": g.paper, "ファイル": g.file,
                         "提供先": g.recipient, "作成日時": g.recorded_at})
    return pd.DataFrame(rows, columns=NOTICE_COLUMNS)


def write_correction_notices(p: Params, corrections: pd.DataFrame) -> Path | None:
    """``teisei_tsuchi.xlsx`` when the year has corrections applied (removed otherwise)."""
    if corrections.empty or not (corrections["status"] == APPLIED).any():
        datasets.write(p, "correction_notices", None)
        return None
    t = notices_table(p, corrections)
    wb, ws, _, _ = table_sheet(t, "訂正の通知先")
    ws.freeze_panes = "A2"
    notes = [f"FY{p.fiscal_year} に適用した訂正ごとに、訂正の前に提供した書類のうち、訂正した資料の情報を記載していたものと、"
             "その提供先です (個人情報保護法 第97条: 必要があると認めるときは、提供先に訂正した旨を通知します)。",
             "行がない訂正は、訂正の前にその資料の情報を記載した書類を提供していません。" if len(t) else
             "今年度の訂正について、訂正の前にその資料の情報を記載した書類は提供していません。",
             PRIVATE_NOTE]
    return datasets.write(p, "correction_notices", with_notes(wb, notes, PrintedAs("訂正の通知先", fy=p.fiscal_year)))
