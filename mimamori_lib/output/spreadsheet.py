"""Spreadsheets people open: data never becomes a formula (CSV or formula injection, OWASP).

A name, an address or a comment comes from another system or from a person; opened in Excel, a cell that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return runs as a formula. Every CSV the pipeline writes goes
through :func:`write_csv`, which puts a ``'`` before such a text value (as OWASP advises; a value that already starts
with ``'`` gets one more, so :func:`read_csv` gives back exactly what was written); numbers stay numbers. Every
workbook cell goes through :func:`append_row`: text is stored as text, never as a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def neutralise(value: str) -> str:
    """A text value that Excel will show as text: ``=1+1`` → ``'=1+1``."""
    return ESCAPE + value if value.startswith((*TRIGGERS, ESCAPE)) else value


def restore(value: str) -> str:
    """The inverse of :func:`neutralise` (for the pipeline's own CSV files read back)."""
    return value[1:] if value.startswith(ESCAPE) else value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell neutralised (numeric, boolean and date columns unchanged)."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        out[c] = s.map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return out


def write_csv(df: pd.DataFrame, target: Path, encoding: str = "utf-8-sig") -> None:
    """A formula-safe CSV (UTF-8 with BOM, as Excel reads it)."""
    safe_frame(df).to_csv(target, index=False, encoding=encoding)


def read_csv(f: Path) -> pd.DataFrame:
    """A CSV the pipeline wrote with :func:`write_csv`, as written (numbers as numbers, text as text)."""
    d = pd.read_csv(f, encoding="utf-8-sig", keep_default_na=False)
    for c in d.columns:
        if d[c].dtype == object:
            d[c] = d[c].map(lambda v: restore(v) if isinstance(v, str) else v)
    return d


def cell(v):
    """A value as an Excel cell: missing values (None, NaN, NA, NaT) empty, numpy numbers as Python numbers."""
    if v is None or (not isinstance(v, str | list | tuple) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") and not isinstance(v, str) else v


def append_row(ws, values: Iterable) -> None:
    """Append a row to an openpyxl worksheet: missing values empty, numpy numbers as numbers, and text stored as text
    even when it starts with ``=`` (openpyxl would otherwise write it as a formula)."""
    from openpyxl.cell.cell import Cell

    cells = [Cell(ws, value=cell(v)) for v in values]
    for c in cells:
        if c.data_type == "f":
            c.data_type = "s"
    ws.append(cells)  # (cells made here, not looked up after: finding the last row counts every cell of the sheet)
