"""Kinds of need in the backtest: each kind's own outcomes (params ``ranking.kinds``), its own model, and the band
composed from strata (:mod:`mimamori_lib.judgement.strata`) judged against today's single model and the count ranking of the
same length — per stratum (kind × age band), per kind, per age band and for the whole band, with Wilson intervals;
and the fairness audit per kind.

25_ranking fits the models and saves the latest judged pair with their out-of-sample scores; the band is judged from
those by 30_extract (:func:`judge_band`), which reads the band's size (``extraction.tier_band``): changing it re-runs
the list and this judgement, not the models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..catalogue.ages import AGE_BANDS, age_band
from ..judgement.indicators import load_catalogue
from ..judgement.scoring import active_catalogue, weighted_values
from ..judgement.strata import kind_counts, select
from ..params import Params
from . import fairness
from .backtest import list_weights, wilson

ORDERINGS = {"strata": "層別 (種類 × 年齢帯)", "model": "モデル (1つ)", "count": "件数順"}
COLUMNS = ["stratum", "kind", "age_band", "ordering", "places", "listed", "positives", "hits", "precision", "precision_low",
           "precision_high", "recall", "recall_low", "recall_high"]


def fit_kind(kind, judged: list[pd.DataFrame], labels: dict[str, str], p: Params):
    """A kind's own model on every judged pair (its outcomes as ``y``), and what the report says of it. Without an
    outcome to learn from, no model: its stratum is ordered by the count of its items, and the report says so."""
    from . import model

    fitted = model.fit_pairs(judged, labels, p.ranking, p.ranking.model, lambda j: kind_outcome(j, kind.outcomes))
    if fitted is None:
        return None, {"label": kind.label, "model": False,
                      "message": f"{kind.label}: 学習に使える結果がないため、この種類の枠は件数の順に並べます"}
    coef = {n: float(c) for n, c in zip(fitted.names, fitted.estimator.coef_[0], strict=True)} if fitted.kind == "logistic" else None
    return fitted, {"label": kind.label, "model": True, "n": fitted.n, "positives": fitted.positives, "coefficients": coef}


def kind_outcome(pair: pd.DataFrame, outcomes: list[str]) -> np.ndarray:
    """1 for a not-yet-supported child with any of the kind's outcomes the next year."""
    cols = [f"o_{o}" for o in outcomes if f"o_{o}" in pair]
    return pair[cols].max(axis=1).to_numpy(int) if cols else np.zeros(len(pair), int)


def band_list(pair: pd.DataFrame, kind_scores: dict[str, np.ndarray], catalogue: dict, p: Params, k: int) -> tuple[np.ndarray, pd.Series]:
    """The strata band of ``k`` over the judged year's not-yet-supported children with an item (out-of-sample kind
    scores): list weights per row of ``pair`` and each listed row's stratum."""
    elig = ~pair["supported"].to_numpy(bool)
    items = [i for i in catalogue if i in pair]
    v = weighted_values(pair[["person_id", *items]], catalogue, p.indicators.weights)
    cand = pd.concat([pair[["person_id", "age"]], v[["basic_value"]], kind_counts(pair, catalogue, p.ranking.kinds)], axis=1)
    for kid, s in kind_scores.items():
        cand[f"risk_{kid}"] = s
    population = pair.loc[elig, "age"]
    cand = cand[elig & (pair[items].sum(axis=1).to_numpy() > 0)]
    picked = select(cand, p.ranking.kinds, p.extraction.strata, k, use_model=True, population=population)
    w = np.zeros(len(pair))
    w[picked.index.to_numpy(int)] = 1.0
    return w, picked["stratum"]


def _row(stratum: str, kind: str, band: str, ordering: str, places, w: np.ndarray, y: np.ndarray, m: np.ndarray) -> dict:
    listed, pos, hits = float(w[m].sum()), int(y[m].sum()), float((w[m] * y[m]).sum())
    pl, ph = wilson(hits, listed)
    rl, rh = wilson(hits, pos)
    return {"stratum": stratum, "kind": kind, "age_band": band, "ordering": ordering, "places": places,
            "listed": round(listed, 2), "positives": pos, "hits": round(hits, 2),
            "precision": hits / listed if listed else np.nan, "precision_low": pl, "precision_high": ph,
            "recall": hits / pos if pos else np.nan, "recall_low": rl, "recall_high": rh}


def backtest(pair: pd.DataFrame, lists: dict[str, np.ndarray], strata_of: pd.Series, p: Params) -> pd.DataFrame:
    """Per stratum, kind, age band and the whole band: each ordering's precision and recall of the kind's outcome (a
    band or the whole: any outcome) among the not-yet-supported children, with intervals."""
    elig = ~pair["supported"].to_numpy(bool)
    bands = age_band(pair["age"]).to_numpy()
    places = strata_of.value_counts()
    rows = []
    for kid, kind in p.ranking.kinds.items():
        y = kind_outcome(pair, kind.outcomes)
        for _lo, _hi, label in AGE_BANDS:
            m = elig & (bands == label)
            for o, w in lists.items():
                rows.append(_row(f"{kid}/{label}", kind.label, label, o, int(places.get(f"{kid}/{label}", 0)) if o == "strata"
                                 else None, w, y, m))
        for o, w in lists.items():
            rows.append(_row(kid, kind.label, "全年齢", o, None, w, y, elig))
    y = pair["y"].to_numpy(int)
    for _lo, _hi, label in AGE_BANDS:
        for o, w in lists.items():
            rows.append(_row(label, "すべて", label, o, None, w, y, elig & (bands == label)))
    for o, w in lists.items():
        rows.append(_row("all", "すべて", "全年齢", o, None, w, y, elig))
    return pd.DataFrame(rows, columns=COLUMNS)


def fairness_by_kind(pair: pd.DataFrame, lists: dict[str, np.ndarray], p: Params) -> pd.DataFrame:
    """The fairness audit of each ordering's band, once per kind of need (its outcome as the hit)."""
    frames = []
    groups = fairness.attribute_groups(pair)
    for kind in p.ranking.kinds.values():
        t = fairness.audit(pair, lists, groups, y=kind_outcome(pair, kind.outcomes))
        frames.append(t.assign(kind=kind.label))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def lists_for(pair: pd.DataFrame, scores: dict[str, np.ndarray], kind_scores: dict[str, np.ndarray], catalogue: dict,
              p: Params, k: int) -> tuple[dict[str, np.ndarray], pd.Series]:
    """The three bands of ``k`` judged side by side: strata, today's single model, the count ranking."""
    elig = ~pair["supported"].to_numpy(bool)
    w, strata_of = band_list(pair, kind_scores, catalogue, p, k)
    return {"strata": w, "model": list_weights(scores["model"], elig, k), "count": list_weights(scores["count"], elig, k)}, strata_of


SCORE, KIND = "score_", "kind_"  # the saved pair's columns: each ordering's score, each kind's model score


def judged_with_scores(pair: pd.DataFrame, scores: dict[str, np.ndarray], kind_scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """The judged pair with each ordering's and each kind's out-of-sample score beside its children (what
    :func:`judge_band` reads)."""
    extra = {f"{SCORE}{n}": s for n, s in scores.items()} | {f"{KIND}{k}": s for k, s in kind_scores.items()}
    return pair.assign(**extra)


@dataclass
class BandJudgement:
    """The band of the list's size by strata, today's single model and the count ranking, judged on the latest pair
    of years (``None`` without an earlier year)."""

    band: int
    strata: pd.DataFrame | None = None
    fairness_kinds: pd.DataFrame | None = None


def judge_band(p: Params, write: bool = True) -> BandJudgement:
    """Judge the band of ``extraction.tier_band`` places (``ranking.fairness_k`` without a tier band) on the pair
    25_ranking saved; writes ``ranking_strata`` and ``ranking_fairness_kinds`` (removed when there is no pair)."""
    band = p.extraction.tier_band or p.ranking.fairness_k
    saved = datasets.read(p, "ranking_judged")
    res = BandJudgement(band)
    if saved is not None and len(saved):
        own = [c for c in saved.columns if c.startswith((SCORE, KIND))]
        pair = saved.drop(columns=own)
        scores = {c.removeprefix(SCORE): saved[c].to_numpy(float) for c in own if c.startswith(SCORE)}
        kind_scores = {kid: saved[f"{KIND}{kid}"].to_numpy(float) for kid in p.ranking.kinds if f"{KIND}{kid}" in saved}
        counting = active_catalogue(load_catalogue(p, every_item=True), p)
        lists, strata_of = lists_for(pair, scores, kind_scores, counting, p, band)
        res.strata = backtest(pair, lists, strata_of, p)
        res.fairness_kinds = fairness_by_kind(pair, lists, p)
    if write:
        datasets.write(p, "ranking_strata", res.strata)
        datasets.write(p, "ranking_fairness_kinds",
                       None if res.fairness_kinds is None else res.fairness_kinds[[*fairness.COLUMNS, "kind"]])
    return res
