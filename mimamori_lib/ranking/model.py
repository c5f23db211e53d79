"""The ranking model: a regularised logistic regression (scikit-learn) on the items, their 'near' flags, age band and
household features — never nationality or sex. Its coefficients are shown as points a caseworker can check, and each
child's 主な理由 are the features that raised its score most. Out-of-sample scores come from cross-fitting with folds
grouped by household (a child's score comes from a model that never saw its household)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..catalogue.ages import AGE_BANDS
from ..params import Ranking
from .data import near_items

HOUSEHOLD_FEATURES = {"hh_3plus_children": "きょうだい 3人以上 (世帯のこども)", "sibling_basic": "きょうだいに基本項目あり"}
POINTS_PER_DOUBLING = 10  # 10 points: the odds double
MIN_REASON = math.log(2) / POINTS_PER_DOUBLING  # a reason adds at least one point
FORBIDDEN = ("sex", "foreign", "nationality")


def _band_feature(lo: int) -> str:
    return f"age_{lo}"


def features(catalogue: dict) -> dict[str, str]:
    """Feature name → its Japanese label: the non-survey items, their near flags, age bands, household features.
    Survey items are left out: the survey exists from FY2025 only, so no earlier year can teach their weight."""
    out = {i: f"{i} {it['label']}" for i, it in catalogue.items() if not it.get("survey")}
    out |= {f"near_{i}": f"{i} {catalogue[i]['label']} (基準に近い)" for i in near_items(catalogue) if not catalogue[i].get("survey")}
    out |= {_band_feature(lo): f"年齢 {label}" for lo, _hi, label in AGE_BANDS}
    out |= HOUSEHOLD_FEATURES
    assert not any(f in out for f in FORBIDDEN), "nationality and sex are never features"
    return out


def design(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The feature matrix (0/1 floats) in the order of ``names``."""
    cols = []
    for n in names:
        if n.startswith("age_"):
            lo = int(n.split("_")[1])
            hi = next(h for low, h, _ in AGE_BANDS if low == lo)
            cols.append(frame["age"].between(lo, hi).to_numpy(float))
        else:
            cols.append(frame[n].to_numpy(float) if n in frame else np.zeros(len(frame)))
    return np.column_stack(cols) if cols else np.zeros((len(frame), 0))


def _estimator(kind: str, r: Ranking):
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=r.C, max_iter=2000)
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, random_state=0)


@dataclass
class Fitted:
    """A fitted model and what it was trained on."""

    kind: str
    estimator: object
    names: list[str]
    labels: dict[str, str]
    n: int
    positives: int
    data_sha256: str

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(design(frame, self.names))[:, 1]


def data_hash(x: np.ndarray, y: np.ndarray) -> str:
    """A hash of the training data (features and outcomes), saved with the model."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.int8).tobytes())
    return h.hexdigest()


def fit(train: pd.DataFrame, labels: dict[str, str], r: Ranking, kind: str = "logistic") -> Fitted | None:
    """Fit on the rows of ``train`` (features and ``y``); ``None`` when there is nothing to learn (no outcome or
    every child had one)."""
    names = list(labels)
    return _fit(design(train, names), train["y"].to_numpy(int), names, labels, r, kind)


def fit_pairs(pairs: list[pd.DataFrame], labels: dict[str, str], r: Ranking, kind: str = "logistic",
              outcome: Callable[[pd.DataFrame], np.ndarray] | None = None) -> Fitted | None:
    """:func:`fit` on the not-yet-supported children of judged pairs, one after another, reading only the features
    (no copy of the pairs): ``outcome`` gives a pair's outcomes (a kind of need's), by default its ``y``."""
    names = list(labels)
    xs, ys = [], []
    for pair in pairs:
        keep = ~pair["supported"].to_numpy(bool)
        xs.append(design(pair, names)[keep])
        ys.append((pair["y"].to_numpy(int) if outcome is None else outcome(pair))[keep])
    if not xs:
        return None
    return _fit(np.vstack(xs), np.concatenate(ys), names, labels, r, kind)


def _fit(x: np.ndarray, y: np.ndarray, names: list[str], labels: dict[str, str], r: Ranking, kind: str) -> Fitted | None:
    est = _estimate(x, y, r, kind)
    return None if est is None else Fitted(kind, est, names, labels, len(y), int(y.sum()), data_hash(x, y))


def _estimate(x: np.ndarray, y: np.ndarray, r: Ranking, kind: str):
    """The fitted estimator (``None`` when there is nothing to learn)."""
    if len(y) == 0 or y.min() == y.max():
        return None
    est = _estimator(kind, r)
    if kind == "logistic":  # the same likelihood over each distinct (features, outcome) row, weighted by its children
        est.fit(*collapsed(x, y))
    else:
        est.fit(x, y)
    return est


def collapsed(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The distinct rows of (``x``, ``y``) and how many children share each, as (features, outcomes, weights): a
    logistic fit on them maximises the same penalised likelihood as on every child, on a thousand rows instead of
    tens of thousands (measured at Beppu size: the same iterations, coefficients equal to 1e-13). A matrix that is
    not 0/1 is returned as it is (weights ``None``)."""
    patterns, codes = _patterns(x)
    if len(patterns) == len(x):
        return x, y, None
    _, first, counts = np.unique(codes.astype(np.int64) * 2 + y, return_index=True, return_counts=True)
    return x[first], y[first], counts.astype(float)


def fold_of(households: pd.Series, folds: int) -> np.ndarray:
    """A fold per household from a hash of its (pseudonymous) id: deterministic, and a household never split (each
    household hashed once)."""
    def of(h) -> int:
        return int(hashlib.sha256(str(h).encode()).hexdigest()[:8], 16) % folds

    values = pd.Series(households)
    codes, uniques = pd.factorize(values)
    out = np.array([of(h) for h in uniques.tolist()] + [0], dtype=np.int64)[codes]
    missing = codes < 0
    if missing.any():  # a missing id is hashed as it reads
        out[missing] = [of(h) for h in values[missing]]
    return out


def crossfit(train: pd.DataFrame, labels: dict[str, str], r: Ranking, kind: str = "logistic") -> np.ndarray:
    """Out-of-sample scores for every row of ``train``: each from a model fitted on the other folds' households."""
    x, y = design(train, list(labels)), train["y"].to_numpy(int)
    return crossfit_design(x, y, fold_of(train["household_id"], r.folds), r, kind)


def crossfit_design(x: np.ndarray, y: np.ndarray, folds: np.ndarray, r: Ranking, kind: str = "logistic") -> np.ndarray:
    """:func:`crossfit` on a design matrix, outcomes and folds already made (one matrix serves every kind of need)."""
    out = np.full(len(y), np.nan)
    base = float(y.mean()) if len(y) else 0.0
    for k in range(r.folds):
        test = folds == k
        if not test.any():
            continue
        est = _estimate(x[~test], y[~test], r, kind)
        out[test] = est.predict_proba(x[test])[:, 1] if est is not None else base
    return out


def points(m: Fitted) -> pd.DataFrame:
    """The model as points: each feature's coefficient, odds ratio and points (10 points = the odds double)."""
    coef = m.estimator.coef_[0]
    t = pd.DataFrame({"特徴": m.names, "内容": [m.labels[n] for n in m.names], "係数": np.round(coef, 3),
                      "オッズ比": np.round(np.exp(coef), 2),
                      "点数": np.round(coef / math.log(2) * POINTS_PER_DOUBLING).astype(int)})
    return t.sort_values("係数", ascending=False, kind="stable").reset_index(drop=True)


def reasons(m: Fitted, frame: pd.DataFrame, n: int) -> pd.Series:
    """主な理由: per child, the ``n`` features present that raise the score most (one point or more)."""
    if m.kind != "logistic" or frame.empty:
        return pd.Series("", index=frame.index)
    coef = m.estimator.coef_[0]
    patterns, which = _patterns(design(frame, m.names))
    contrib = patterns * coef
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :n]
    labels = np.array([m.labels[x] for x in m.names], dtype=object)
    words = np.array(["、".join(labels[j] for j in order[i] if contrib[i, j] >= MIN_REASON) for i in range(len(patterns))],
                     dtype=object)
    return pd.Series(words[np.ravel(which)], index=frame.index)


def _patterns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 0/1 feature matrix and each row's pattern (children with the same features have the
    same reasons, worked out once per pattern); any other matrix row by row."""
    if x.shape[1] > 52 or not ((x == 0) | (x == 1)).all():
        return x, np.arange(len(x))
    # each row as the number its bits spell: exact in float64 (below 2**53, every partial sum a whole number)
    codes, _ = pd.factorize(x @ np.exp2(np.arange(x.shape[1], dtype=np.float64)))
    _, first = np.unique(codes, return_index=True)
    return x[first], codes


def to_json(m: Fitted, trained_on: list[tuple[int, int]], extra: dict | None = None) -> dict:
    """The model as saved with the run: coefficients (logistic), features, training years and data hash."""
    import sklearn

    d = {"model": m.kind, "features": m.names, "labels": m.labels, "trained_on": [list(t) for t in trained_on],
         "n": m.n, "positives": m.positives, "training_data_sha256": m.data_sha256, "scikit_learn": sklearn.__version__}
    if m.kind == "logistic":
        d |= {"C": float(m.estimator.C), "intercept": float(m.estimator.intercept_[0]),
              "coefficients": {n: float(c) for n, c in zip(m.names, m.estimator.coef_[0], strict=True)}}
    return d | (extra or {})
