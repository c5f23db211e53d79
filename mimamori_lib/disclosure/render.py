"""Public tables: every table a public report shows passed disclosure control (and its audit), or holds no counts
of children and says why; :func:`show` refuses anything else."""

from __future__ import annotations

from html import escape

import pandas as pd

from .tables import FLAG


def mark_safe(df: pd.DataFrame, reason: str) -> pd.DataFrame:
    """Mark a public table that holds no counts of children (rates from large bases, test statistics computed only
    from published cells, Likert averages of staff) as checked, with the reason recorded."""
    out = df.copy()
    out.attrs[FLAG] = True
    out.attrs["reason"] = reason
    return out


def is_protected(df: pd.DataFrame) -> bool:
    return bool(getattr(df, "attrs", {}).get(FLAG))


def assert_protected(df: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """Fail if a table meant for a public report did not pass disclosure control, or failed its audit."""
    if not is_protected(df):
        raise ValueError(f"公開用の表が開示制御を通っていません: {name or list(df.columns)[:3]}")
    if df.attrs.get("audit_passed") is False:
        raise ValueError(f"公開用の表の監査で、秘匿したセルが逆算できることが分かりました: {name or list(df.columns)[:3]}")
    return df


def show(df: pd.DataFrame, name: str = ""):
    """Render a public table as HTML, refusing one that did not pass disclosure control. The table carries a
    class (``disclosure-protected`` or ``disclosure-safe``) that the leak test checks."""
    from IPython.display import HTML

    assert_protected(df, name)
    kind = "disclosure-safe" if df.attrs.get("reason") else "disclosure-protected"
    title = df.attrs.get("title", "")
    clean = df.copy()
    clean.attrs = {}
    numbered = isinstance(clean.index, pd.RangeIndex)  # row numbers mean nothing to a reader: not shown
    html = clean.to_html(classes=["dataframe", kind], na_rep="—", border=0, index=not numbered)
    if title:
        html = html.replace(">", f"><caption>{escape(title)}</caption>", 1)
    return HTML(html)
