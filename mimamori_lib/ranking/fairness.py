"""The fairness audit: for each ranking's list, by sex, foreign residents, one-parent households, disability and age
band — each group's share of the not-yet-supported children and of the list, and the list's precision and recall
within the group (recall: of the group's children who later reached services, how many the list had found). A
difference from the rest of the children whose 95% interval excludes zero is flagged in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalogue.ages import AGE_BANDS
from .backtest import RANKING_LABEL, wilson
from .data import ATTRIBUTES

AGE_ORDER = {label: i for i, (_lo, _hi, label) in enumerate(AGE_BANDS)}


def _order(group: str) -> tuple:
    return (AGE_ORDER.get(group, len(AGE_ORDER)), str(group))


COLUMNS = ["ranking", "attribute", "group", "population", "listed", "hits", "precision", "recall"]


def attribute_groups(pair: pd.DataFrame) -> list[tuple[str, list[tuple[object, np.ndarray]]]]:
    """Each attribute's groups among the not-yet-supported children, in order, with each group's children (a mask
    of ``pair``'s rows)."""
    eligible = ~pair["supported"].to_numpy(bool)
    out = []
    for attr in ATTRIBUTES:
        g = pair[attr].to_numpy()
        out.append((attr, [(group, eligible & (g == group)) for group in sorted(pd.unique(g[eligible]), key=_order)]))
    return out


def audit(pair: pd.DataFrame, lists: dict[str, np.ndarray], groups: list | None = None,
          y: np.ndarray | None = None) -> pd.DataFrame:
    """``lists``: ranking → list weight per row of ``pair`` (1 listed, a fraction at a shared tie). Counts are among
    the not-yet-supported children of the judged year; ``positives`` (the group's children with an outcome) is kept
    for the intervals. ``groups``: :func:`attribute_groups` of ``pair``, when the caller has them already; ``y``: the
    outcome per row (a kind of need's), by default the pair's ``y``."""
    y = pair["y"].to_numpy(int) if y is None else np.asarray(y, dtype=int)
    groups = groups if groups is not None else attribute_groups(pair)
    rows = []
    for name, w in lists.items():
        for attr, members in groups:
            for group, m in members:
                listed, hits, pos = float(w[m].sum()), float((w[m] * y[m]).sum()), int(y[m].sum())
                rows.append({"ranking": name, "attribute": attr, "group": group, "population": int(m.sum()),
                             "listed": round(listed, 2), "hits": round(hits, 2),
                             "precision": hits / listed if listed else np.nan, "recall": hits / pos if pos else np.nan,
                             "positives": pos})
    return pd.DataFrame(rows, columns=[*COLUMNS, "positives"])


def _diff_ci(h1: float, n1: float, h2: float, n2: float) -> tuple[float, float, float]:
    """Difference of two proportions with Newcombe's hybrid score interval (method 10)."""
    if n1 <= 0 or n2 <= 0:
        return (np.nan, np.nan, np.nan)
    p1, p2 = h1 / n1, h2 / n2
    l1, u1 = wilson(h1, n1)
    l2, u2 = wilson(h2, n2)
    d = p1 - p2
    return d, d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def flags(table: pd.DataFrame) -> pd.DataFrame:
    """Each group against the rest of the children (same ranking and attribute): share of the list vs share of the
    population, and the differences in precision and recall with 95% intervals; 判定 says in words where an
    interval excludes zero."""
    rows = []
    for (name, attr), t in table.groupby(["ranking", "attribute"], sort=False):
        tot = t[["population", "listed", "hits", "positives"]].sum()
        for r in t.itertuples():
            rest = tot - pd.Series({"population": r.population, "listed": r.listed, "hits": r.hits, "positives": r.positives})
            dp = _diff_ci(r.hits, r.listed, rest["hits"], rest["listed"])
            dr = _diff_ci(r.hits, r.positives, rest["hits"], rest["positives"])
            words = []
            for what, (d, lo, hi) in (("適合率", dp), ("再現率 (見つかった割合)", dr)):
                if np.isfinite(lo) and (lo > 0 or hi < 0):
                    words.append(f"{what}が他より{'高い' if d > 0 else '低い'} (差 {d:+.2f}, 95%CI {lo:+.2f}〜{hi:+.2f})")
            rows.append({"順位付け": RANKING_LABEL.get(name, name), "属性": ATTRIBUTES[attr], "グループ": r.group,
                         "未支援のこども": r.population,
                         "母集団に占める割合(%)": round(100 * r.population / tot["population"], 1) if tot["population"] else np.nan,
                         "リストに占める割合(%)": round(100 * r.listed / tot["listed"], 1) if tot["listed"] else np.nan,
                         "適合率": round(r.precision, 3) if pd.notna(r.precision) else np.nan,
                         "再現率": round(r.recall, 3) if pd.notna(r.recall) else np.nan,
                         "判定": "; ".join(words) or "差は区間内 (はっきりした差はない)"})
    return pd.DataFrame(rows)
