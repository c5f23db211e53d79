"""Excel helpers shared by the files staff open (extraction list, case template, review queue)."""

from __future__ import annotations

import pandas as pd

PRIVATE_NOTE = "このファイルは個人を特定できる情報を含みます。庁内の定められた場所以外に保存しないでください。"


def cell(v):
    """A value as an Excel cell: missing values (None, NaN, NA, NaT) empty, numpy numbers as Python numbers."""
    if v is None or (not isinstance(v, str | list | tuple) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") and not isinstance(v, str) else v


def row(values) -> list:
    """A row of cells for ``Worksheet.append``."""
    return [cell(v) for v in values]


def table_sheet(table: pd.DataFrame, title: str):
    """A new workbook whose first sheet (``title``) holds ``table`` under its header. Returns (workbook, sheet, column
    number by name, last row to validate: at least row 2)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(table.columns))
    for r in table.itertuples(index=False):
        ws.append(row(r))
    return wb, ws, {c: i + 1 for i, c in enumerate(table.columns)}, max(len(table) + 1, 2)


def drop_down(ws, column: int, values: list[str] | None, rows: int) -> None:
    """A drop-down list (``values``) or, with ``values=None``, a date check on a column of a sheet staff fill in,
    from row 2 to ``rows`` (openpyxl's default: a hint, not an error, so that several types separated by ・ can still
    be typed)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = (DataValidation(type="list", formula1=f'"{",".join(values)}"', allow_blank=True) if values is not None
          else DataValidation(type="date", allow_blank=True))
    ws.add_data_validation(dv)
    letter = get_column_letter(column)
    dv.add(f"{letter}2:{letter}{rows}")


def save_with_notes(wb, notes: list[str], target, root) -> None:
    """Add the explanation sheet (説明) and save a workbook that names children (mode 600: restricted.private_file)."""
    from .restricted import private_file

    info = wb.create_sheet("説明")
    for line in notes:
        info.append([line])
    with private_file(target, root) as f:
        wb.save(f)
