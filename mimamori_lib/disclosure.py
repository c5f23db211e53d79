"""Disclosure control for public tables: primary suppression of small counts and secondary suppression so that
no suppressed cell can be recovered from row or column totals.

Primary: every count from 1 to ``threshold − 1`` (params ``disclosure.threshold``, default 5: "under 5") is
suppressed, margins included. Secondary: any row or column (margins included) left with exactly one suppressed
cell gets a second one — the smallest remaining count, preferring non-zero cells — repeated until no line has a
single suppressed cell, so no cell equals a published total minus published cells. Zeros are published (a zero
reveals no child). Every table that goes into a public report must pass :func:`protect` (it marks the table),
and :func:`assert_protected` fails for one that did not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MASK = "＊"
TOTAL = "合計"
_FLAG = "disclosure_protected"


def primary(values: np.ndarray, threshold: int) -> np.ndarray:
    """Cells to suppress because they are small (1 ≤ v < threshold)."""
    return (values >= 1) & (values < threshold)


def secondary(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Extend ``mask`` until no row or column holds exactly one suppressed cell."""
    m = mask.copy()
    changed = True
    while changed:
        changed = False
        for axis in (1, 0):
            lines = m if axis == 1 else m.T
            vals = values if axis == 1 else values.T
            for i in range(lines.shape[0]):
                if lines[i].sum() == 1:
                    cand = np.where(~lines[i])[0]
                    if len(cand) == 0:
                        continue
                    v = vals[i, cand].astype(float)
                    # prefer the smallest non-zero cell; a zero only if nothing else remains
                    key = np.where(v > 0, v, np.inf)
                    j = cand[int(np.argmin(key))] if np.isfinite(key).any() else cand[0]
                    if axis == 1:
                        m[i, j] = True
                    else:
                        m[j, i] = True
                    changed = True
    return m


def with_totals(counts: pd.DataFrame) -> pd.DataFrame:
    """A count table with a row total column and a column total row (合計)."""
    t = counts.copy()
    t[TOTAL] = t.sum(axis=1)
    t.loc[TOTAL] = t.sum(axis=0)
    return t


def protect(counts: pd.DataFrame, threshold: int = 5, totals: bool = True) -> pd.DataFrame:
    """Suppress a two-way count table (and its totals) for publication. Suppressed cells show ``＊``."""
    t = with_totals(counts.astype(int)) if totals else counts.astype(int)
    v = t.to_numpy()
    mask = secondary(v, primary(v, threshold))
    out = t.astype(object).mask(mask, MASK)
    out.attrs[_FLAG] = True
    out.attrs["threshold"] = threshold
    out.attrs["suppressed_cells"] = int(mask.sum())
    return out


def protect_counts(series: pd.Series, threshold: int = 5, name: str = "人数") -> pd.DataFrame:
    """A one-way count table (with its total) for publication."""
    return protect(series.to_frame(name), threshold=threshold, totals=True).drop(columns=[TOTAL])


def mark_safe(df: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Mark a public table that holds no counts of children (rates from large bases, test statistics, Likert
    averages of staff) as checked, with the reason recorded."""
    out = df.copy()
    out.attrs[_FLAG] = True
    out.attrs["reason"] = reason
    return out


def is_protected(df: pd.DataFrame) -> bool:
    return bool(getattr(df, "attrs", {}).get(_FLAG))


def assert_protected(df: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """Fail if a table meant for a public report did not pass disclosure control."""
    if not is_protected(df):
        raise ValueError(f"公開用の表が開示制御を通っていません: {name or list(df.columns)[:3]}")
    return df


def recoverable(table: pd.DataFrame) -> list[tuple]:
    """Cells that could be recovered: a suppressed cell alone in its row or column (empty list when safe)."""
    m = (table == MASK).to_numpy()
    out = []
    for i in range(m.shape[0]):
        if m[i].sum() == 1:
            out.append((table.index[i], table.columns[int(np.where(m[i])[0][0])]))
    for j in range(m.shape[1]):
        if m[:, j].sum() == 1:
            out.append((table.index[int(np.where(m[:, j])[0][0])], table.columns[j]))
    return out


def show(df: pd.DataFrame, name: str = ""):
    """Render a public table as HTML, refusing one that did not pass disclosure control. The table carries a
    class (``disclosure-protected`` or ``disclosure-safe``) that the leak test checks."""
    from IPython.display import HTML

    assert_protected(df, name)
    kind = "disclosure-safe" if df.attrs.get("reason") else "disclosure-protected"
    return HTML(df.to_html(classes=["dataframe", kind], na_rep="—", border=0))
