"""The backtest: each ranking's list at year t judged against the outcomes at year t+1.

For a list of the top k, children tied with the k-th share the remaining places: each tied child counts for
(places left ÷ children tied), so a ranking is not flattered or punished by an arbitrary tie-break. Precision has a
Wilson 95% interval; recall is over every not-yet-supported child with an outcome; the base rate is the outcome rate
among the not-yet-supported children (a list drawn at random would find it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..judgement.scoring import count_score as ordered_counts
from ..judgement.scoring import extract, weighted_values
from ..params import Extraction, Params

COLUMNS = ["ranking", "k", "listed", "hits", "precision", "ci_low", "ci_high", "recall", "base_rate"]
RANKING_LABEL = {"rule": "別府市の件数ルール (グループ1・2)", "count": "件数順 (未支援のこども)",
                 "model": "モデル (ロジスティック回帰)", "hist_gradient_boosting": "参考: 勾配ブースティング",
                 "outcome": "結果そのもの (検算用)"}


def wilson(hits: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion (hits may be fractional: shared places at a tie)."""
    if n <= 0:
        return (np.nan, np.nan)
    ph = hits / n
    d = 1 + z * z / n
    c = (ph + z * z / (2 * n)) / d
    h = z * np.sqrt(max(ph * (1 - ph) / n + z * z / (4 * n * n), 0.0)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def list_weights(score: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """How much each child is on the top-``k`` list by ``score`` (higher first) among ``eligible``: 1 above the
    cut-off, a shared fraction for the children tied with the k-th, 0 below."""
    w = np.zeros(len(score))
    idx = np.flatnonzero(eligible)
    if k <= 0 or len(idx) == 0:
        return w
    if k >= len(idx):
        w[idx] = 1.0
        return w
    s = score[idx]
    cut = np.sort(s)[::-1][k - 1]
    above, at = s > cut, s == cut
    w[idx[above]] = 1.0
    w[idx[at]] = (k - above.sum()) / at.sum()
    return w


def judge(weights: np.ndarray, y: np.ndarray, positives: int, population: int) -> dict:
    """listed, hits, precision (Wilson CI), recall and base rate of a list given by ``weights``."""
    listed, hits = float(weights.sum()), float((weights * y).sum())
    lo, hi = wilson(hits, listed)
    return {"listed": round(listed, 2), "hits": round(hits, 2), "precision": hits / listed if listed else np.nan,
            "ci_low": lo, "ci_high": hi, "recall": hits / positives if positives else np.nan,
            "base_rate": positives / population if population else np.nan}


def count_score(frame: pd.DataFrame, catalogue: dict, p: Params) -> np.ndarray:
    """The count ranking as one number: basic value first, other value breaks ties (as the extraction orders)."""
    v = weighted_values(frame[["person_id", *[i for i in catalogue if i in frame]]], catalogue, p.indicators.weights)
    return ordered_counts(v["basic_value"].to_numpy(float), v["other_value"].to_numpy(float))


def rule_list(frame: pd.DataFrame, catalogue: dict, p: Params) -> np.ndarray:
    """Beppu's rule as run: groups 1 and 2 over every child (already supported included), no tier."""
    m = frame[["person_id", *[i for i in catalogue if i in frame]]].copy()
    basic = [i for i, it in catalogue.items() if it.get("basic") and i in m]
    other = [i for i, it in catalogue.items() if not it.get("basic") and i in m]
    m["basic_count"], m["other_count"] = m[basic].sum(axis=1), m[other].sum(axis=1)
    m = weighted_values(m, catalogue, p.indicators.weights)
    m["supported"] = frame["supported"].to_numpy()
    ex = p.extraction  # the rule's own values only (nobody excluded, no tier: the defaults), not the list's
    rule = Extraction(top_basic=ex.top_basic, top_other=ex.top_other, ties=ex.ties, min_count=ex.min_count)
    return (extract(m, rule)["group"] != "").to_numpy()


def backtest(pair: pd.DataFrame, scores: dict[str, np.ndarray], rule: np.ndarray | None, ks: list[int]) -> pd.DataFrame:
    """One row per ranking and k (the rule: one row, its own list size). ``pair`` has ``y`` and ``supported``;
    ``scores``: ranking name → a score per row of ``pair`` (higher first), judged among the not-yet-supported."""
    y = pair["y"].to_numpy(int)
    eligible = ~pair["supported"].to_numpy(bool)
    positives, population = int(y[eligible].sum()), int(eligible.sum())
    rows = []
    if rule is not None:
        w = rule.astype(float)
        rows.append({"ranking": "rule", "k": int(w.sum()), **judge(w, y, positives, population)})
    for name, s in scores.items():
        for k in ks:
            rows.append({"ranking": name, "k": k, **judge(list_weights(s, eligible, k), y, positives, population)})
    return pd.DataFrame(rows, columns=COLUMNS)
