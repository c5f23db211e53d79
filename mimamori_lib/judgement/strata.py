"""次点層 composed from strata: every kind of need and every age band gets places.

A single model trained on one pooled outcome chases the outcome that is easiest to predict (absence that persists):
its list reaches almost no child aged 0–5 or 15–18 and few in poverty. Here the band of ``extraction.tier_band``
places is composed from strata — kinds of need (params ``ranking.kinds``: 貧困, 不登校, 養育困難・虐待の疑い) × age
bands. Half of the band (``extraction.strata.by_children``) goes to the age bands in proportion to their
not-yet-supported children, so that every age is seen; the rest where the validated rankings expect the most
outcomes. Within an age band every kind first gets ``min_places`` by its own ranking, then the places go to the
highest probability, each kind's counted ``weight`` times (params ``ranking.kinds.<kind>.weight``: 不登校 5, the
others 1 — a policy value: absence that persists is a rarer outcome than a service newly granted, and without it the
poverty model's higher probabilities take a band's places from pupils who stop attending). Each kind is ordered by
its own validated model (``risk_<kind>``) — or, where that kind has no model, by the count of its items. A child is listed once, under the kind with the highest relative risk (its risk over
the mean risk of that kind), shown on the list as 主な課題. ``extraction.strata.places`` sets a stratum's places.

Measured on a synthetic city of Beppu's size (benchmarks/strata.py): places in proportion to each stratum's children
alone starve 不登校 (few children carry attendance items, many carry poverty items) and lose acute need; places by
expected outcomes alone leave ages 0–5 and 15–18 behind. Half and half reaches every age band and kind. Without
不登校's weight the 15–18 band went to the poverty model's picks and the list found fewer children with acute need
(neglect or 不登校) than the count ranking of the same length (seed 7: 103 against 111); with it, 112 against 111.

The frame passed in carries, per kind, ``count_<kind>`` (items of its types) and optionally ``risk_<kind>``; ``age``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalogue.ages import AGE_BANDS, age_band
from ..params import NeedKind, Strata


def kind_counts(frame: pd.DataFrame, catalogue: dict, kinds: dict[str, NeedKind]) -> pd.DataFrame:
    """``count_<kind>``: how many of the child's items are of the kind's types."""
    out = pd.DataFrame(index=frame.index)
    for kid, k in kinds.items():
        items = [i for i, it in catalogue.items() if it.get("type") in k.item_types and i in frame]
        out[f"count_{kid}"] = frame[items].sum(axis=1).astype(int) if items else 0
    return out


def stratum_id(kind: str, band: str) -> str:
    return f"{kind}/{band}"


def value(cand: pd.DataFrame, kind: str, use_model: bool) -> pd.Series:
    """What orders a stratum: its kind's model risk, or (no model) the count of its items, basic value breaking ties."""
    risk = cand.get(f"risk_{kind}")
    if use_model and risk is not None and risk.notna().any():
        return risk.fillna(0.0).astype(float)
    tie = cand["basic_value"].astype(float) / 1000 if "basic_value" in cand else 0.0
    return cand[f"count_{kind}"].astype(float) + tie


def relative(cand: pd.DataFrame, kinds: dict[str, NeedKind], use_model: bool) -> pd.DataFrame:
    """Each candidate's value of each kind over that kind's mean among the candidates."""
    out = pd.DataFrame(index=cand.index)
    for kid in kinds:
        v = value(cand, kid, use_model)
        mean = float(v.mean()) if len(v) else 0.0
        out[kid] = v / mean if mean > 0 else 0.0
    return out


def _largest_remainder(share: dict[str, float], k: int) -> dict[str, int]:
    places = {b: int(np.floor(x)) for b, x in share.items()}
    for b in sorted(share, key=lambda b: (-(share[b] - np.floor(share[b])), b)):
        if sum(places.values()) >= k:
            break
        places[b] += 1
    return places


def band_places(cand: pd.DataFrame, prob: pd.Series, population: pd.Series, k: int, by_children: float) -> dict[str, int]:
    """Places per age band: a share ``by_children`` of the band in proportion to each age band's not-yet-supported
    children (``population``: their ages), so that every age is seen; the rest in proportion to the outcomes its
    candidates are expected to have (the sum of their probabilities: where the validated rankings expect most)."""
    bands = age_band(cand["age"]).to_numpy()
    pop = age_band(population).value_counts()
    labels = [label for _lo, _hi, label in AGE_BANDS]
    n = {b: float(pop.get(b, 0)) for b in labels}
    e = {b: float(prob[bands == b].sum()) for b in labels}
    tn, te = sum(n.values()), sum(e.values())
    share = {b: k * ((by_children * n[b] / tn) if tn else 0) + k * (1 - by_children) * ((e[b] / te) if te else 0)
             for b in labels}
    return _largest_remainder(share, k)


def fixed_places(strata: Strata, k: int) -> dict[str, int]:
    """Places params set per stratum (``kind/age band`` → a count, or a share of the band below 1)."""
    return {sid: int(round(v * k)) if v < 1 else int(v) for sid, v in strata.places.items()}


def select(cand: pd.DataFrame, kinds: dict[str, NeedKind], strata: Strata, k: int, use_model: bool,
           population: pd.Series | None = None) -> pd.DataFrame:
    """The band: ``k`` of the candidates. Strata with places set in params take them first; each age band then gets
    places (:func:`band_places`; ``population``: the ages of every not-yet-supported child, by default the
    candidates'); within a band, each kind first gets ``min_places`` (its own ranking's top), then the places go to
    the highest probability of the child's kind. A child is counted once, under the kind where its probability is
    highest relative to that kind's mean (主な課題). Returns the picked rows (index of ``cand``) with ``main_need``,
    ``stratum`` and ``relative_risk``, in list order."""
    cols = ["main_need", "stratum", "relative_risk"]
    if k <= 0 or cand.empty:
        return pd.DataFrame(columns=cols)
    labels = [label for _lo, _hi, label in AGE_BANDS]
    valid = {stratum_id(kid, b) for kid in kinds for b in labels}
    fixed = fixed_places(strata, k)
    unknown = sorted(set(fixed) - valid)
    if unknown:
        raise ValueError(f"extraction.strata.places: {'・'.join(unknown)} は 種類/年齢帯 ではありません (例: poverty/0〜5歳)")
    rr = relative(cand, kinds, use_model)
    main = rr.idxmax(axis=1)
    raw = pd.DataFrame({kid: value(cand, kid, use_model) for kid in kinds})
    vals = raw * pd.Series({kid: k.weight for kid, k in kinds.items()})
    at_main = (np.arange(len(cand)), [list(kinds).index(m) for m in main])
    prob = pd.Series(raw.to_numpy()[at_main], index=cand.index)  # expected outcomes: the age bands' places
    weighted = pd.Series(vals.to_numpy()[at_main], index=cand.index)  # the order within an age band
    bands = age_band(cand["age"])
    chosen: dict = {}
    # plain dicts for the orderings below (a pandas lookup per comparison took most of the step's time)
    pid, main_of, weight_of = cand["person_id"].to_dict(), main.to_dict(), weighted.to_dict()
    value_of = {kid: vals[kid].to_dict() for kid in kinds}

    def take(pool, kid: str, label: str, n: int) -> None:
        v = value_of[kid]
        for i in sorted((i for i in pool if i not in chosen), key=lambda i: (-v[i], pid[i]))[:n]:
            chosen[i] = (kid, label)

    for sid, n in fixed.items():  # strata whose places params set
        kid, label = sid.split("/", 1)
        take(cand.index[((main == kid) & (bands == label)).to_numpy()], kid, label, n)
    ages = cand["age"] if population is None else population
    for label, n in band_places(cand, prob, ages, max(k - len(chosen), 0), strata.by_children).items():
        in_band = cand.index[(bands == label).to_numpy()]
        start = len(chosen)
        for kid in kinds:  # every kind a few places of its own, by its own ranking
            if stratum_id(kid, label) not in fixed:
                take([i for i in in_band if main_of[i] == kid], kid, label, min(strata.min_places, n - (len(chosen) - start)))
        rest = sorted((i for i in in_band if i not in chosen), key=lambda i: (-weight_of[i], pid[i]))
        for i in rest[: max(n - (len(chosen) - start), 0)]:
            chosen[i] = (main_of[i], label)
    idx = list(chosen)
    out = pd.DataFrame({"main_need": [chosen[i][0] for i in idx], "stratum": [stratum_id(*chosen[i]) for i in idx],
                        "relative_risk": rr.max(axis=1)[idx].to_numpy(), "_p": weighted[idx].to_numpy()}, index=idx)
    return out.sort_values("_p", ascending=False, kind="stable")[cols]
