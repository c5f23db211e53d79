"""順位付けの検証 (25_ranking): how well does each way of ordering the list find, at year t, the not-yet-supported
children who reach services at year t+1?

For the run's year this stage writes every child's items and evidence (which 30_extract draws the list from), then
for each pair of consecutive years it has (t → t+1): the outcomes at t+1 (params ``ranking.outcomes``), the backtest
of Beppu's rule, the count ranking and the model at t (every model score judged is out of sample: from a model of
earlier pairs, or cross-fitted by household where there is only one pair), the calibration and the fairness audit.
The model for this year's list is then fitted on every pair and applied to this year's children. Without an earlier
year there is nothing to learn from: the list keeps the count ranking and the report says so.

The latest judged pair is saved with its out-of-sample scores (``ranking_judged``): 30_extract judges the band of the
list's size by strata on it (:func:`.kinds.judge_band`), so that a change of the band re-runs the list, not the models.

A ranking orders a list for a meeting of people; it decides nothing. The outcomes measure who later reached
services, not need itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..judgement.scoring import active_catalogue, item_table, write_items
from ..params import Params, run_years, year_params
from ..records.retention import screening_purged
from . import backtest as bt
from . import fairness, model
from . import kinds as nk
from .data import judged_pair, outcomes, saved_year_frame, year_frame

log = logging.getLogger(__name__)
__all__ = ["RankResult", "run", "read_ranking"]


@dataclass
class RankResult:
    """What 25_ranking found and wrote."""

    fy: int
    pairs: list[tuple[int, int]]
    frame: pd.DataFrame                      # this year's children: person_id, model_risk, reasons
    fitted: model.Fitted | None
    backtest: pd.DataFrame | None = None     # the latest pair (judged year → next year)
    backtest_by_year: pd.DataFrame | None = None
    fairness: pd.DataFrame | None = None
    calibration: pd.DataFrame | None = None
    brier: float | None = None
    outcome_counts: pd.DataFrame | None = None
    judged: pd.DataFrame | None = None       # the latest pair with each ordering's out-of-sample scores (30_extract
                                             # judges the band on it)
    kinds: dict = field(default_factory=dict)  # kind → {"model": fitted or not, "message": ...}
    message: str = ""
    seconds: dict = field(default_factory=dict)


def _pairs(p: Params, catalogue: dict, now: pd.DataFrame) -> tuple[dict[int, pd.DataFrame], list[tuple[int, int]]]:
    frames = {}
    purged = set(screening_purged(p))
    for fy in run_years(p):
        if fy < p.fiscal_year:
            f = None if fy in purged else saved_year_frame(year_params(p, fy), catalogue)
            if fy in purged:
                log.info("FY%d のデータは保存期間を過ぎて削除したため、順位付けの検証に使えません", fy)
            elif f is None:
                log.info("FY%d はまだ実行されていないため、順位付けの検証に使えません", fy)
            else:
                frames[fy] = f
    frames[p.fiscal_year] = now
    ys = sorted(frames)
    return frames, list(zip(ys[:-1], ys[1:], strict=True))


@dataclass
class _Judged:
    """A judged pair's not-yet-supported children as the models see them: which rows, their features and their
    folds (made once, for every ordering and every kind of need)."""

    elig: np.ndarray
    x: np.ndarray
    folds: np.ndarray

    @classmethod
    def of(cls, pair: pd.DataFrame, labels: dict, p: Params) -> _Judged:
        elig = ~pair["supported"].to_numpy(bool)
        return cls(elig, model.design(pair[elig], list(labels)),
                   model.fold_of(pair.loc[elig, "household_id"], p.ranking.folds))


def _model_scores(pair: pd.DataFrame, judged: _Judged, earlier: list[pd.DataFrame], labels: dict, p: Params, kind: str,
                  outcomes: list[str] | None = None) -> np.ndarray:
    """Out-of-sample scores of the judged year's not-yet-supported children (the supported get −inf); ``outcomes``:
    a kind of need's (its model learns them), else every outcome (``y``)."""
    s = np.full(len(pair), -np.inf)
    if earlier:
        m = model.fit_pairs(earlier, labels, p.ranking, kind,
                            None if outcomes is None else (lambda e: nk.kind_outcome(e, outcomes)))
        if m is not None:
            s[judged.elig] = m.estimator.predict_proba(judged.x)[:, 1]
            return s
    y = pair["y"].to_numpy(int) if outcomes is None else nk.kind_outcome(pair, outcomes)
    s[judged.elig] = model.crossfit_design(judged.x, y[judged.elig], judged.folds, p.ranking, kind)
    return s


def _calibration(y: np.ndarray, s: np.ndarray, bins: int) -> tuple[pd.DataFrame, float]:
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    frac, pred = calibration_curve(y, s, n_bins=bins, strategy="quantile")
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)))
    n = np.histogram(s, bins=edges)[0] if len(edges) > 1 else np.array([len(s)])
    t = pd.DataFrame({"予測した確率": np.round(pred, 4), "実際の割合": np.round(frac, 4)})
    t["人数"] = n[: len(t)] if len(n) >= len(t) else np.nan
    return t, float(brier_score_loss(y, s))


def run(p: Params, write: bool = True) -> RankResult:
    """Items and evidence of the year, the backtest of every pair of years, the fairness audit and this year's
    model scores. Writes them under ``<processed>/<fy>/`` (``write``)."""
    t0 = time.perf_counter()
    items, ev, full = write_items(p) if write else item_table(p)
    t_items = time.perf_counter() - t0
    counting = active_catalogue(full, p)
    labels = model.features(full)
    # this year's children are only scored, never judged here: who the previous year's meeting judged does not enter
    # (so the previous year's decisions are not read, and saving them does not make this step run again)
    now = year_frame(p, items, ev, full, judged_earlier=set())
    frames, pairs = _pairs(p, full, now)
    judged = {}
    for a, b in pairs:
        judged[(a, b)] = judged_pair(frames[a], outcomes(year_params(p, a), year_params(p, b)))
    kinds = [p.ranking.model, *p.ranking.compare]
    need = p.ranking.kinds
    res = RankResult(p.fiscal_year, pairs, now[["person_id"]].copy(), None)
    rows, counts = [], []
    for i, (a, b) in enumerate(pairs):
        pair = judged[(a, b)]
        earlier = [judged[q] for q in pairs[:i]]
        scores = {"count": bt.count_score(pair, counting, p)}
        prepared = _Judged.of(pair, labels, p)
        for kind in kinds:
            scores["model" if kind == p.ranking.model else kind] = _model_scores(pair, prepared, earlier, labels, p, kind)
        rule = bt.rule_list(pair, counting, p)
        t = bt.backtest(pair, scores, rule, p.ranking.ks)
        rows.append(t.assign(judged_fy=a, outcome_fy=b))
        elig = ~pair["supported"].to_numpy(bool)
        counts.append({"judged_fy": a, "outcome_fy": b, "children": len(pair), "not_supported": int(elig.sum()),
                       "hits": int(pair["y"].sum()),
                       **{c: int(pair[c].sum()) for c in pair.columns if c.startswith("o_")}})
        if i == len(pairs) - 1:
            kind_scores = {kid: _model_scores(pair, prepared, earlier, labels, p, p.ranking.model, kd.outcomes)
                           for kid, kd in need.items()}
            res.judged = nk.judged_with_scores(pair, scores, kind_scores)
            res.backtest = t
            k = p.ranking.fairness_k
            lists = {"rule": rule.astype(float)} | {n: bt.list_weights(s, elig, k) for n, s in scores.items()}
            res.fairness = fairness.audit(pair, lists)
            if pair["y"][elig].nunique() > 1:
                res.calibration, res.brier = _calibration(pair["y"].to_numpy(int)[elig], scores["model"][elig],
                                                          p.ranking.calibration_bins)
    if rows:
        res.backtest_by_year = pd.concat(rows, ignore_index=True)
        res.outcome_counts = pd.DataFrame(counts)
    t_backtest = time.perf_counter() - t0 - t_items
    res.fitted = model.fit_pairs([judged[q] for q in pairs], labels, p.ranking, p.ranking.model)
    if res.fitted is None:
        res.frame["model_risk"] = np.nan
        res.frame["reasons"] = ""
        res.message = (f"FY{p.fiscal_year}: 前の年度の結果がないため、モデルは学習できません。リストは件数の順に並べます。"
                       if not pairs else f"FY{p.fiscal_year}: 学習データに結果の起きたこどもがいない (または全員) ため、"
                                         "モデルは学習できません。リストは件数の順に並べます。")
        log.warning(res.message)
    else:
        res.frame["model_risk"] = res.fitted.predict(now)
        res.frame["reasons"] = model.reasons(res.fitted, now, p.ranking.reasons).to_numpy()
    for kid, kd in need.items():  # each kind of need: its own model, or (no outcome to learn from) its count ranking
        fitted, res.kinds[kid] = nk.fit_kind(kd, [judged[q] for q in pairs], labels, p)
        res.frame[f"risk_{kid}"] = fitted.predict(now) if fitted else np.nan
        res.frame[f"reasons_{kid}"] = model.reasons(fitted, now, p.ranking.reasons).to_numpy() if fitted else ""
    res.seconds = {"items": round(t_items, 2), "backtest": round(t_backtest, 2),
                   "total": round(time.perf_counter() - t0, 2)}
    log.info("順位付けの所要時間 (秒): 項目 %.1f, 検証 %.1f, 全体 %.1f", *res.seconds.values())
    if write:
        _write(p, res)
    return res


def _write(p: Params, res: RankResult) -> None:
    datasets.write(p, "ranking", res.frame)
    extra = {"fiscal_year": p.fiscal_year, "outcomes": {k: o.label for k, o in p.ranking.outcomes.items()},
             "brier": res.brier, "kinds": res.kinds}
    if res.outcome_counts is not None:
        last = res.outcome_counts.iloc[-1]
        extra["backtest"] = {"judged_fy": int(last["judged_fy"]), "outcome_fy": int(last["outcome_fy"]),
                             "population": int(last["not_supported"]), "positives": int(last["hits"])}
    d = model.to_json(res.fitted, res.pairs, extra) if res.fitted else {"model": None, "message": res.message, **extra}
    datasets.write(p, "ranking_model", d)
    optional = {"ranking_backtest": res.backtest, "ranking_backtest_by_year": res.backtest_by_year,
                "ranking_fairness": None if res.fairness is None else res.fairness[fairness.COLUMNS],
                "ranking_calibration": res.calibration, "ranking_judged": res.judged}
    for name, t in optional.items():
        datasets.write(p, name, t)


def read_ranking(p: Params) -> pd.DataFrame | None:
    """This year's model scores and reasons (``None`` before 25_ranking has run)."""
    return datasets.read(p, "ranking")
