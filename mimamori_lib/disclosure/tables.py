"""Count tables for publication: primary suppression of small counts, then secondary suppression until the
linear-system audit passes (:mod:`.system`).

Primary: every count from 1 to ``threshold − 1`` (params ``disclosure.threshold``) is suppressed, margins included.
Secondary: a quick first pass makes every row and column that has one hidden cell hide a second (the cheapest
non-zero cell); then the audit of the whole table — every row, column and margin together, and any table that
shares margins with it — hides more cells until each hidden small count lies in an interval at least
``disclosure.protection`` wide. Zeros are published (a zero reveals no child) and never hidden.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .system import Key, System, audit, protect_system

MASK = "＊"
TOTAL = "合計"
FLAG = "disclosure_protected"


def primary(values: np.ndarray, threshold: int) -> np.ndarray:
    """Cells to suppress because they are small (1 ≤ v < threshold)."""
    return (values >= 1) & (values < threshold)


def secondary(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """First pass: extend ``mask`` until no row or column holds exactly one suppressed cell (the smallest non-zero
    cell of the line joins it). The audit decides whether more is needed."""
    m = mask.copy()
    changed = True
    while changed:
        changed = False
        for axis in (1, 0):
            lines = m if axis == 1 else m.T
            vals = values if axis == 1 else values.T
            for i in range(lines.shape[0]):
                if lines[i].sum() == 1:
                    cand = np.where(~lines[i] & (vals[i] > 0))[0]
                    if len(cand) == 0:
                        continue
                    j = cand[int(np.argmin(vals[i, cand]))]
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


def table_system(name: str, t: pd.DataFrame, threshold: int, totals: bool, row_key=None) -> System:
    """The system of one count table (``t`` with its totals when ``totals``). ``row_key(row)`` names the row total's
    variable when several tables share it (the same respondents counted by each question)."""
    rows, cols = list(t.index), list(t.columns)
    key = {}
    for r in rows:
        for c in cols:
            if totals and c == TOTAL and r != TOTAL and row_key is not None:
                key[(r, c)] = row_key(r)
            else:
                key[(r, c)] = (name, r, c)
    values = {key[(r, c)]: int(t.at[r, c]) for r in rows for c in cols}
    eqs = []
    if totals:
        inner_r = [r for r in rows if r != TOTAL]
        inner_c = [c for c in cols if c != TOTAL]
        for r in rows:
            eqs.append({**{key[(r, c)]: 1.0 for c in inner_c}, key[(r, TOTAL)]: -1.0})
        for c in cols:
            eqs.append({**{key[(r, c)]: 1.0 for r in inner_r}, key[(TOTAL, c)]: -1.0})
    small = {k for k, v in values.items() if 1 <= v < threshold}
    return System(values=values, published=set(values) - small, equalities=eqs, sensitive=small, cells=set(values))


def _first_pass(s: System, t: pd.DataFrame, name: str, key_of) -> None:
    v = t.to_numpy().astype(int)
    m = np.array([[key_of(r, c) not in s.published for c in t.columns] for r in t.index])
    m2 = secondary(v, m)
    for i, r in enumerate(t.index):
        for j, c in enumerate(t.columns):
            if m2[i, j]:
                s.published.discard(key_of(r, c))


def _render(t: pd.DataFrame, s: System, key_of, threshold: int, protection: int) -> pd.DataFrame:
    out = t.astype(object).copy()
    for r in t.index:
        for c in t.columns:
            if key_of(r, c) not in s.published:
                out.at[r, c] = MASK
    res = audit(s, protection)
    small = int(((t.to_numpy() >= 1) & (t.to_numpy() < threshold)).sum())
    out.attrs.update({FLAG: True, "threshold": threshold, "protection": protection, "audit_passed": res.passed,
                      "suppressed_cells": int((out == MASK).to_numpy().sum()), "primary_cells": small, "system": s})
    return out


def protect(counts: pd.DataFrame, threshold: int = 5, totals: bool = True, protection: int = 3,
            name: str = "table") -> pd.DataFrame:
    """Suppress a two-way count table (and its totals) for publication. Suppressed cells show ``＊``; the table
    carries its system and audit in ``attrs``."""
    t = with_totals(counts.astype(int)) if totals else counts.astype(int)
    s = table_system(name, t, threshold, totals)

    def key_of(r, c):
        return (name, r, c)

    _first_pass(s, t, name, key_of)
    s = protect_system(s, protection)
    return _render(t, s, key_of, threshold, protection)


def protect_counts(series: pd.Series, threshold: int = 5, name: str = "人数", protection: int = 3) -> pd.DataFrame:
    """A one-way count table (with its total) for publication."""
    return protect(series.to_frame(name), threshold=threshold, totals=True, protection=protection, name=name).drop(columns=[TOTAL])


def protect_many(tables: dict[str, pd.DataFrame], threshold: int = 5, protection: int = 3,
                 shared_row_totals: bool = False) -> dict[str, pd.DataFrame]:
    """Several count tables published together, audited as one system. ``shared_row_totals``: each row's total is
    the same quantity in every table (the same respondents, counted by each question), so hiding it in one table
    and showing it in another would not protect it."""
    full = {n: with_totals(t.astype(int)) for n, t in tables.items()}
    keys = {}
    system = None
    for n, t in full.items():
        rk = (lambda r: ("row_total", r)) if shared_row_totals else None
        s = table_system(n, t, threshold, True, row_key=rk)

        def key_of(r, c, n=n):
            return ("row_total", r) if shared_row_totals and c == TOTAL and r != TOTAL else (n, r, c)

        keys[n] = key_of
        system = s if system is None else system.merge(s)
    for n, t in full.items():
        _first_pass(system, t, n, keys[n])
    # a shared total hidden in one table is hidden in all of them (one variable), so the first pass may add more
    system = protect_system(system, protection)
    return {n: _render(t, system, keys[n], threshold, protection) for n, t in full.items()}


def hidden_keys(table: pd.DataFrame) -> set[Key]:
    """The variables a protected table leaves hidden."""
    s: System = table.attrs["system"]
    return s.hidden
