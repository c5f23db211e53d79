"""個人情報ファイル簿 (個人情報保護法 第75条): the published register entry of the file the system keeps, filled from
the source registry and params — never retyped, so it says what the ingestion really reads.

Its 記録項目 are the columns the ingestion reads (by source and department, each with its source's purpose); a
column the purpose does not allow, or the run refuses, is neither read nor listed. It holds no personal data and can be
published; it changes exactly when the registry or the params change (a register that says the same is not
written again).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..catalogue.ages import SCOPE_LABEL
from ..catalogue.registry import columns_read, load_registry
from ..output.spreadsheet import append_row
from ..output.workbook import table_sheet
from ..params import Params


def recorded_items(p: Params) -> pd.DataFrame:
    """記録項目: one row per column the ingestion reads (部署, 資料, ファイル, 列, 利用目的, 要配慮個人情報)."""
    rows = []
    for spec in load_registry(p).values():
        for header in columns_read(spec):
            rows.append({"部署": spec.get("department", ""), "資料": spec.get("title", ""), "ファイル": spec["path"],
                         "記録項目": header, "利用目的": spec.get("purpose", ""),
                         "要配慮個人情報": "含む" if spec.get("sensitive") else ""})
    return pd.DataFrame(rows, columns=["部署", "資料", "ファイル", "記録項目", "利用目的", "要配慮個人情報"])


def entry(p: Params) -> pd.DataFrame:
    """The 第75条 fields as (項目, 内容)."""
    reg = load_registry(p)
    r, ret = p.records, p.retention
    departments = list(dict.fromkeys(s.get("department", "") for s in reg.values() if s.get("department")))
    sensitive = [f"{s.get('title', sid)} ({s.get('department', '')})" for sid, s in reg.items() if s.get("sensitive")]
    recipients = [f"{x.label} (根拠: {x.basis or '—'})" for x in p.sharing.recipients.values()]
    fields = [
        ("個人情報ファイルの名称", r.file_name),
        ("行政機関等の名称", f"{p.city.prefecture}{p.city.name}"),
        ("個人情報ファイルが利用に供される事務をつかさどる組織の名称", f"{p.city.name} {r.department}"),
        ("個人情報ファイルの利用目的", r.purpose),
        ("記録項目", f"別表「記録項目」のとおり ({len(recorded_items(p))} 項目、{len(reg)} 資料)。利用目的に必要な列のみを読み込み、"
                     "それ以外の列は読み込みません (個人情報保護法第61条)"),
        ("記録範囲", f"{p.city.name}の住民基本台帳に記録された {SCOPE_LABEL}のこどもとその世帯 (各年度の基準日時点)"),
        ("記録情報の収集方法", "庁内の各課が保有するデータの抽出 (エクスポート): " + "・".join(departments)),
        ("要配慮個人情報が含まれるときは、その旨", "含む: " + "・".join(sensitive) if sensitive else "含まない"),
        ("記録情報の経常的提供先", "・".join(recipients) or "なし"),
        ("開示請求等を受理する組織の名称及び所在地", r.contact),
        ("訂正及び利用停止に関する他の法令の規定による特別の手続等", "なし"),
        ("個人情報ファイルの種別", "電算処理ファイル (行政機関等匿名加工情報の提案の募集をする個人情報ファイルではない)"),
        ("保存期間", f"各年度の判定データ: 年度の終了後 {ret.years} 年 / 会議の判断・事例記録: 年度の終了後 {ret.records_years} 年"),
    ]
    return pd.DataFrame(fields, columns=["項目", "内容"])


def _cells(f: Path) -> dict[str, list[tuple]]:
    """A workbook's sheets as rows of values (to tell whether a register already says the same)."""
    from openpyxl import load_workbook

    wb = load_workbook(f, read_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def _rows(t: pd.DataFrame) -> list[tuple]:
    return [tuple(t.columns), *(tuple(None if v == "" else v for v in r) for r in t.itertuples(index=False))]


def write(p: Params) -> Path:
    """``<out>/reports/個人情報ファイル簿.xlsx``: the entry, and the 記録項目 as a table. A register that already says
    the same is left as it is (the file changes exactly when the registry or the params do)."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    head, items = entry(p), recorded_items(p)
    f = datasets.path(p, "file_register")
    if f.is_file() and _cells(f) == {"個人情報ファイル簿": _rows(head), "記録項目": _rows(items)}:
        return f
    wb, ws, _, _ = table_sheet(head, "個人情報ファイル簿")
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 34, 100
    for row in ws.iter_rows():
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    ws2 = wb.create_sheet("記録項目")
    append_row(ws2, list(items.columns))
    for r in items.itertuples(index=False):
        append_row(ws2, r)
    for i, w in enumerate((14, 26, 26, 22, 50, 14), 1):
        ws2.column_dimensions[get_column_letter(i)].width = w
    for sheet in (ws, ws2):
        for c in sheet[1]:
            c.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    return datasets.write(p, "file_register", wb.save)
