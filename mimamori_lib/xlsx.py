"""Excel helpers shared by the files staff open (extraction list, review queue)."""

from __future__ import annotations

import pandas as pd


def cell(v):
    """A value as an Excel cell: missing values (None, NaN, NA, NaT) empty, numpy numbers as Python numbers."""
    if v is None or (not isinstance(v, str | list | tuple) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") and not isinstance(v, str) else v


def row(values) -> list:
    """A row of cells for ``Worksheet.append``."""
    return [cell(v) for v in values]
