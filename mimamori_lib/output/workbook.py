"""Excel helpers shared by the files staff open (extraction list, case template, review queue, follow-up). Every
cell goes through :func:`mimamori_lib.output.spreadsheet.append_row`: text is never a formula."""

from __future__ import annotations

import pandas as pd

from .spreadsheet import append_row, cell  # noqa: F401 (cell: part of this module's interface)

PRIVATE_NOTE = "このファイルは個人を特定できる情報を含みます。庁内の定められた場所以外に保存しないでください。"


def table_sheet(table: pd.DataFrame, title: str):
    """A new workbook whose first sheet (``title``) holds ``table`` under its header. Returns (workbook, sheet, column
    number by name, last row to validate: at least row 2)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    append_row(ws, list(table.columns))
    for r in table.itertuples(index=False):
        append_row(ws, r)
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


def add_notes(wb, notes: list[str]) -> None:
    """The explanation sheet (説明) of a workbook staff open: one line per row."""
    info = wb.create_sheet("説明")
    for line in notes:
        append_row(info, [line])


def with_notes(wb, notes: list[str]):
    """Add the explanation sheet (説明) to a workbook staff open; returns the function that saves it (for
    :func:`mimamori_lib.catalogue.datasets.write`, which saves it privately and renames it into place)."""
    add_notes(wb, notes)
    return wb.save
