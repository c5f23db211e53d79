"""Disclosure control on hand-made tables, including cases where one suppressed cell would be recoverable."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mimamori_lib.disclosure import (
    MASK,
    TOTAL,
    assert_protected,
    mark_safe,
    protect,
    protect_counts,
    recoverable,
)


def _t(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, index=[f"r{i}" for i in range(len(rows))], columns=[f"c{j}" for j in range(len(rows[0]))])


def test_primary_suppresses_small_counts_not_zeros() -> None:
    out = protect(_t([[10, 3], [20, 0]]), threshold=5)
    assert out.loc["r0", "c1"] == MASK
    assert out.loc["r1", "c1"] == 0, "zeros reveal no child"
    assert recoverable(out) == []


def test_single_suppressed_cell_in_a_row_gets_a_partner() -> None:
    # r0: 3 is small; with the row total 23 published, 3 = 23 − 20 unless a second cell is hidden
    out = protect(_t([[20, 3, 12], [30, 25, 40], [15, 18, 22]]), threshold=5)
    assert out.loc["r0", "c1"] == MASK
    assert (out.loc["r0"] == MASK).sum() >= 2
    assert (out[["c1"]] == MASK).sum().iloc[0] >= 2, "and in its column"
    assert recoverable(out) == []


def test_small_margin_is_suppressed_too() -> None:
    out = protect(_t([[2, 1], [40, 50]]), threshold=5)
    assert out.loc["r0", TOTAL] == MASK, "a row total of 3 is itself a small count"
    assert recoverable(out) == []


def test_threshold_from_params_and_boundary() -> None:
    assert protect(_t([[5, 9], [9, 9]]), threshold=5).loc["r0", "c0"] == 5, "5 is not under 5"
    assert protect(_t([[5, 9], [9, 9]]), threshold=6).loc["r0", "c0"] == MASK


@pytest.mark.parametrize("seed", range(25))
def test_random_tables_never_recoverable(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = _t(rng.integers(0, 12, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)))).tolist())
    out = protect(t, threshold=5)
    assert recoverable(out) == []
    v = out.to_numpy()
    # every published cell is 0 or ≥ 5
    for x in v.ravel():
        assert x == MASK or x == 0 or x >= 5
    # no suppressed cell can be solved from one line: each line has 0 or ≥ 2 suppressed cells
    m = v == MASK
    assert all(s != 1 for s in itertools.chain(m.sum(axis=0), m.sum(axis=1)))


def test_one_way_and_marks() -> None:
    out = protect_counts(pd.Series({"a": 12, "b": 2, "c": 30}), threshold=5)
    assert out.loc["b", "人数"] == MASK and (out["人数"] == MASK).sum() >= 2
    assert_protected(out)
    with pytest.raises(ValueError):
        assert_protected(pd.DataFrame({"x": [1]}))
    assert_protected(mark_safe(pd.DataFrame({"rate": [0.5]}), "rates from bases over 1,000"))


def test_funnel_hides_small_differences_between_nested_counts() -> None:
    from mimamori_lib.evaluation import funnel_table

    f = {"fy": 2025, "in_scope": 16000, "extracted": 33, "extracted_basic": 20, "extracted_other": 13, "extracted_tier": 0,
         "decided": 33, "already_supported": 26, "need_support": 9, "new_need": 5, "new_in_top": 5, "new_in_tier": 0,
         "on_hold": 2, "support_started": 3}
    t = funnel_table([f], threshold=5)["FY2025"]
    assert t["支援要"] == MASK, "9 − 5 = 4 already-supported children judged 要 would be revealed"
    assert t["新たに支援要 (新規)"] == 5 and t["保留"] == MASK and t["支援を開始"] == MASK
    assert t["既に支援につながっていた"] == 26, "33 − 26 = 7 is not small"
