"""Disclosure control: suppression audited as one linear system (the oracle), checked against brute force on tiny
tables, on thousands of random tables, and on the published statistics that once let a hidden count back out."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mimamori_lib.disclosure import (
    MASK,
    TOTAL,
    Derived,
    System,
    assert_protected,
    audit,
    intervals,
    mark_safe,
    primary,
    protect,
    protect_counts,
    protect_many,
    secondary,
    with_totals,
)
from mimamori_lib.disclosure.tables import table_system


def _t(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=[f"r{i}" for i in range(len(rows))], columns=[f"c{j}" for j in range(len(rows[0]))])


def _brute(t: pd.DataFrame, hidden: set[tuple]) -> dict[tuple, tuple[int, int]]:
    """Every integer filling (≥ 1) of the hidden inner cells that matches the published cells and margins."""
    v = t.to_numpy()
    rows, cols = v.sum(axis=1), v.sum(axis=0)
    cells = sorted(hidden)
    pos = [(list(t.index).index(r), list(t.columns).index(c)) for r, c in cells]
    found: dict[tuple, list[int]] = {c: [] for c in cells}
    for combo in itertools.product(range(1, int(v.max()) + 6), repeat=len(cells)):
        g = v.copy()
        for (i, j), x in zip(pos, combo, strict=True):
            g[i, j] = x
        if (g.sum(axis=1) == rows).all() and (g.sum(axis=0) == cols).all():
            for c, x in zip(cells, combo, strict=True):
                found[c].append(x)
    return {k: (min(x), max(x)) for k, x in found.items()}


def test_the_audit_agrees_with_brute_force() -> None:
    """Tiny tables with margins published and a few inner cells hidden: the audit's intervals are exactly those of
    enumerating every filling."""
    rng = np.random.default_rng(1)
    checked = 0
    while checked < 40:
        t = _t(rng.integers(1, 8, size=(int(rng.integers(2, 4)), int(rng.integers(2, 4)))).tolist())
        cells = [(r, c) for r in t.index for c in t.columns]
        hidden = {cells[i] for i in rng.choice(len(cells), size=int(rng.integers(2, 5)), replace=False)}
        full = with_totals(t)
        s = table_system("t", full, threshold=5, totals=True)
        s.published = {k for k in s.values if (k[1], k[2]) not in hidden}
        got = intervals(s, [("t", r, c) for r, c in sorted(hidden)])
        assert {(k[1], k[2]): v for k, v in got.items()} == _brute(t, hidden), t
        checked += 1


def test_primary_suppresses_small_counts_not_zeros() -> None:
    out = protect(_t([[10, 3], [20, 0]]), threshold=5)
    assert out.loc["r0", "c1"] == MASK and out.loc["r1", "c1"] == 0, "zeros reveal no child and are never hidden"
    assert out.attrs["audit_passed"]


def test_a_hidden_cell_is_not_solvable_from_its_row_or_column() -> None:
    out = protect(_t([[20, 3, 12], [30, 25, 40], [15, 18, 22]]), threshold=5)
    assert out.loc["r0", "c1"] == MASK
    assert (out.loc["r0"] == MASK).sum() >= 2 and (out["c1"] == MASK).sum() >= 2
    res = audit(out.attrs["system"], protection=3, fresh=True)
    assert res.passed and all(hi - lo >= 3 for lo, hi in res.intervals.values())


def test_a_cell_solvable_from_several_rows_and_columns_together_is_protected() -> None:
    """The single-line rule (each line with 0 or ≥ 2 hidden cells) is not enough: search random tables for one where
    it leaves a small count pinned by rows and columns together, and check that the audit-driven suppression fixes
    it."""
    rng = np.random.default_rng(2026)
    found = None
    for _ in range(3000):
        t = _t(rng.integers(0, 12, size=(int(rng.integers(4, 7)), int(rng.integers(4, 7)))).tolist())
        full = with_totals(t)
        s = table_system("t", full, 5, True)
        mask = secondary(full.to_numpy(), primary(full.to_numpy(), 5))
        s.published = {("t", full.index[i], full.columns[j]) for i in range(mask.shape[0]) for j in range(mask.shape[1])
                       if not mask[i, j]}
        if not audit(s, 3, fresh=True).passed:
            found = t
            break
    assert found is not None, "the single-line rule leaves some tables open"
    out = protect(found, threshold=5)
    assert audit(out.attrs["system"], 3, fresh=True).passed


@pytest.mark.parametrize("seed", range(40))
def test_random_tables_pass_the_audit(seed: int) -> None:
    """Thousands of random tables (50 per seed): every published cell is 0 or ≥ threshold, and every hidden small
    count lies in an interval at least `protection` wide given everything published."""
    rng = np.random.default_rng(seed)
    for _ in range(50):
        t = _t(rng.integers(0, 14, size=(int(rng.integers(2, 7)), int(rng.integers(2, 7)))).tolist())
        threshold, protection = int(rng.integers(3, 7)), int(rng.integers(1, 4))
        out = protect(t, threshold=threshold, protection=protection)
        for x in out.to_numpy().ravel():
            assert x == MASK or x == 0 or x >= threshold
        res = audit(out.attrs["system"], protection, fresh=True)
        assert res.passed, (t, out, res.table())


def test_margins_and_one_way_tables() -> None:
    out = protect(_t([[2, 1], [40, 50]]), threshold=5)
    assert out.loc["r0", TOTAL] == MASK, "a row total of 3 is itself a small count"
    one = protect_counts(pd.Series({"a": 12, "b": 2, "c": 30}), threshold=5)
    assert one.loc["b", "人数"] == MASK and (one["人数"] == MASK).sum() >= 2
    assert assert_protected(one) is one
    with pytest.raises(ValueError):
        assert_protected(pd.DataFrame({"x": [1]}))
    assert_protected(mark_safe(pd.DataFrame({"rate": [0.5]}), "rates from bases over 1,000"))


def test_threshold_boundary() -> None:
    assert protect(_t([[5, 9], [9, 9]]), threshold=5).loc["r0", "c0"] == 5, "5 is not under 5"
    assert protect(_t([[5, 9], [9, 9]]), threshold=6).loc["r0", "c0"] == MASK


def test_tables_that_share_row_totals_are_protected_together() -> None:
    """The same respondents are counted by every question: a total hidden in one table and shown in another would be
    no protection. Audited as one system, it is hidden everywhere or nowhere."""
    a = _t([[3, 30], [40, 50]])
    b = _t([[10, 23], [45, 45]])
    out = protect_many({"Q1": a, "Q2": b}, threshold=5, shared_row_totals=True)
    assert all(o.attrs["audit_passed"] for o in out.values())
    shown = {n: o.loc["r0", TOTAL] for n, o in out.items()}
    assert len(set(map(str, shown.values()))) == 1, shown
    s = out["Q1"].attrs["system"]
    assert audit(s, 3, fresh=True).passed


def test_a_published_statistic_that_pins_a_hidden_cell_is_caught() -> None:
    """The FY comparison once hid FY2024's 新たに支援要 (4 of 33) but showed Fisher's p = 0.737 against 6 of 36: only 4
    gives that p. The audit finds it; withholding the statistic (the rule) passes."""
    from scipy.stats import fisher_exact

    def p_value(v: dict) -> float:
        return float(fisher_exact([[v["k2"], v["n2"] - v["k2"]], [v["k1"], v["n1"] - v["k1"]]])[1])

    values = {"k1": 4, "n1": 33, "k2": 6, "n2": 36}
    shown = round(p_value(values), 3)
    assert shown == 0.737
    d = Derived("p値 (Fisher)", ["k1", "n1", "k2", "n2"], p_value, shown)
    s = System(values=values, published={"n1", "k2", "n2"}, inequalities=[{"k1": 1, "n1": -1}], sensitive={"k1"},
               cells=set(values), derived=[d])
    res = audit(s, protection=3)
    assert not res.passed and any("[4]" in x for x in res.derived_leaks), res.derived_leaks
    s.derived = []
    assert audit(s, protection=3).passed


def _funnel(fy: int, **kw) -> dict:
    base = {"fy": fy, "in_scope": 16000, "extracted": 33, "extracted_basic": 20, "extracted_other": 13, "extracted_tier": 0,
            "decided": 33, "already_supported": 26, "need_support": 9, "new_need": 5, "new_in_top": 5, "new_in_tier": 0,
            "on_hold": 2, "support_started": 5, "new_by_type": {"貧困": 3, "不登校": 2}}
    return {**base, **kw}


def test_the_funnel_is_audited_with_its_nesting() -> None:
    from mimamori_lib.evaluation import publish

    pub = publish([_funnel(2024, new_need=4, new_in_top=4, support_started=3, need_support=8),
                   _funnel(2025, extracted=36, extracted_basic=26, extracted_other=10, decided=36, new_need=6, new_in_top=6,
                           need_support=9, support_started=6)], threshold=5, protection=3, alpha=0.05, power=0.8)
    assert pub["audit"].passed, pub["audit"].record()
    t = pub["funnel_table"]
    assert t.at["新たに支援要 (新規)", "FY2024"] == MASK, "4 is a small count"
    assert t.at["支援要", "FY2025"] == MASK or t.at["新たに支援要 (新規)", "FY2025"] == MASK, \
        "9 支援要 of whom 6 new would reveal 3 already-supported children judged 要"
    assert t.at["抽出", "FY2024"] == 33 and t.at["対象のこども (0〜18歳)", "FY2025"] == 16000, "headline rows stay"
    comp = pub["comparison"]
    row = comp.loc["抽出されたこどものうち新たに支援要と判断"]
    assert (row[["FY2024", "差 (ポイント)", "95%信頼区間", "p値 (Fisher)"]] == MASK).all(), \
        "no statistic computed from a hidden count (Fisher's p once gave FY2024's 4 back)"
    assert row["検出可能な最小差 (ポイント)"] != MASK, "it depends on the bases only"
    system = pub["system"]
    assert audit(system, 3, fresh=True).passed
    lo, hi = intervals(system, [("FY2024", "new_need")])[("FY2024", "new_need")]
    assert hi - lo >= 3
    assert any("非公表" in line for line in pub["timing"]) or all("日" in line for line in pub["timing"])


def test_a_year_without_decisions_publishes_no_nan() -> None:
    from mimamori_lib.evaluation import publish

    f = {"fy": 2025, "in_scope": 16000, "extracted": 36, "extracted_basic": 26, "extracted_other": 10, "extracted_tier": 0,
         "decided": 0}
    pub = publish([f], threshold=5, protection=3, alpha=0.05, power=0.8)
    assert pub["timing"] == ["FY2025: 会議の判断はまだありません。"] and pub["comparison"].empty
