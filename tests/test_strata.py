"""次点層 by kind of need and by age (issue 25): every kind and every age band gets places, each ordered by its own
validated ranking, a child listed once under its main kind; a kind without outcomes falls back to its count ranking
and says so; a planted predictive item for 0–5 children ranks them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimamori_lib.catalogue.ages import AGE_BANDS, age_band
from mimamori_lib.judgement.strata import select
from mimamori_lib.params import Strata, load_params
from mimamori_lib.ranking import kinds as nk

KINDS = load_params("params/fy2025.yaml").ranking.kinds


def _frame(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """Candidates of every age with items of every kind and a risk per kind."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(n)], "age": rng.integers(0, 19, n),
                      "basic_value": rng.integers(0, 3, n).astype(float)})
    for kid in KINDS:
        f[f"count_{kid}"] = rng.integers(0, 3, n)
        f[f"risk_{kid}"] = rng.random(n) * 0.3
    school = f["age"].between(6, 15)
    f.loc[~school, "count_attendance"] = 0  # no attendance record before or after compulsory school
    f.loc[~school, "risk_attendance"] = 0.01
    return f


def test_every_stratum_gets_its_places_and_a_child_is_listed_once() -> None:
    f = _frame()
    strata = Strata(min_places=3)
    band = select(f, KINDS, strata, 100, use_model=True, population=f["age"])
    assert len(band) == 100 and band.index.is_unique
    got = band["stratum"].value_counts()
    main = nk_main(f)
    for kid in KINDS:
        for _lo, _hi, label in AGE_BANDS:
            candidates = ((main == kid) & (age_band(f["age"]) == label)).sum()
            if candidates:
                assert got.get(f"{kid}/{label}", 0) >= min(3, candidates), f"{kid}/{label}"
    assert set(age_band(f.loc[band.index, "age"])) == {label for _lo, _hi, label in AGE_BANDS}, "every age band is seen"


def nk_main(f: pd.DataFrame) -> pd.Series:
    from mimamori_lib.judgement.strata import relative

    return relative(f, KINDS, True).idxmax(axis=1)


def test_places_set_in_params_are_taken() -> None:
    f = _frame()
    band = select(f, KINDS, Strata(places={"poverty/0〜5歳": 12}), 60, use_model=True)
    assert (band["stratum"] == "poverty/0〜5歳").sum() == 12 and len(band) == 60
    with pytest.raises(ValueError, match="種類/年齢帯"):
        select(f, KINDS, Strata(places={"poverty/幼児": 3}), 60, use_model=True)


def test_a_kinds_weight_orders_an_age_band_but_leaves_its_places() -> None:
    """不登校's weight moves pupils up within their age band (absence is a rarer outcome than a service granted); the
    age bands' places still follow the unweighted probabilities, so the youngest keep theirs."""
    f = _frame()
    even = {kid: k.model_copy(update={"weight": 1.0}) for kid, k in KINDS.items()}
    heavy = {kid: k.model_copy(update={"weight": 5.0 if kid == "attendance" else 1.0}) for kid, k in KINDS.items()}
    plain = select(f, even, Strata(min_places=0), 100, use_model=True, population=f["age"])
    weighted = select(f, heavy, Strata(min_places=0), 100, use_model=True, population=f["age"])
    assert (weighted["main_need"] == "attendance").sum() > (plain["main_need"] == "attendance").sum()
    bands = {name: age_band(f.loc[b.index, "age"]).value_counts() for name, b in (("plain", plain), ("w", weighted))}
    assert bands["plain"].get("0〜5歳") == bands["w"].get("0〜5歳")


def test_a_kind_without_a_model_is_ordered_by_its_counts() -> None:
    f = _frame()
    f["risk_care"] = np.nan
    f.loc[f.index[:5], "count_care"] = 9  # the most care items
    band = select(f, KINDS, Strata(min_places=3), 100, use_model=True)
    care = band[band["main_need"] == "care"]
    assert set(f.index[:5]) & set(care.index), "the children with the most items of the kind lead its stratum"


def _pair(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """A judged year: 0–5 children whose planted item (B09, 健診未受診) predicts a care outcome next year."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"person_id": [f"c{i:05d}" for i in range(n)], "household_id": [f"h{i // 2:05d}" for i in range(n)],
                      "age": rng.integers(0, 19, n), "supported": False})
    for i in ("B01", "B02", "B06", "B09", "N01"):
        f[i] = (rng.random(n) < 0.08).astype(int)
    young = f["age"] <= 5
    f.loc[young, "B09"] = (rng.random(young.sum()) < 0.15).astype(int)
    for o in ("O1", "O2", "O3", "O4", "O5", "O6", "O7", "O8", "O9", "O10"):
        f[f"o_{o}"] = (rng.random(n) < 0.01).astype(int)
    f.loc[young & (f["B09"] == 1), "o_O1"] = (rng.random((young & (f["B09"] == 1)).sum()) < 0.7).astype(int)
    f["y"] = f[[c for c in f.columns if c.startswith("o_")]].max(axis=1)
    f["hh_3plus_children"] = 0
    f["sibling_basic"] = 0
    return f


def test_a_planted_predictive_item_for_0_to_5_children_ranks_them() -> None:
    p = load_params("params/fy2025.yaml")
    labels = {"B01": "B01", "B02": "B02", "B06": "B06", "B09": "B09", "N01": "N01",
              **{f"age_{lo}": label for lo, _hi, label in AGE_BANDS}}
    pair = _pair()
    fitted, info = nk.fit_kind(p.ranking.kinds["care"], [pair], labels, p)
    assert info["model"] and fitted is not None
    assert info["coefficients"]["B09"] > 0
    f = pair.assign(basic_value=0.0, **{f"count_{k}": 0 for k in KINDS})
    f["count_care"] = f["B09"] + f["N01"]
    f["risk_care"] = fitted.predict(pair)
    for k in ("poverty", "attendance"):
        f[f"risk_{k}"] = 0.02
    band = select(f, KINDS, Strata(), 100, use_model=True, population=f["age"])
    young = band[(band["stratum"] == "care/0〜5歳")]
    assert len(young) >= 5 and f.loc[young.index, "B09"].mean() > 0.8


def test_a_kind_without_outcomes_says_so() -> None:
    p = load_params("params/fy2025.yaml")
    pair = _pair()
    for o in p.ranking.kinds["care"].outcomes:
        pair[f"o_{o}"] = 0
    fitted, info = nk.fit_kind(p.ranking.kinds["care"], [pair], {"B09": "B09"}, p)
    assert fitted is None and not info["model"] and "件数の順" in info["message"]


def test_the_demo_list_shows_each_childs_main_need(smoke_run: Path, tmp_path: Path) -> None:
    """With a tier band ordered by the model, every child of the band carries 主な課題 and its kind's reasons; the
    backtest compares the strata with the single model and the count ranking, per stratum."""
    import shutil

    from mimamori_lib import pipeline

    for d in ("raw", "out"):
        shutil.copytree(smoke_run / d, tmp_path / d)
    f = tmp_path / "p.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\nextraction:\n  exclude_supported: true\n"
                 "  tier_band: 30\n  ranking: model\n", encoding="utf-8")
    pipeline.run_year(f, str(tmp_path / "raw"), str(tmp_path / "out"), stop="35_meeting")
    t = pd.read_csv(tmp_path / "out" / "reports" / "internal" / "fy2025" / "extraction.csv", encoding="utf-8-sig")
    tier = t[t["グループ"] == "次点層 (未支援)"]
    assert len(tier) == 30 and tier["主な課題"].isin([k.label for k in KINDS.values()]).all()
    assert t["抽出ID"].is_unique
    bt = pd.read_csv(tmp_path / "out" / "processed" / "fy2025" / "ranking_strata.csv")
    assert set(bt["ordering"]) == {"strata", "model", "count"}
    assert {"all", "poverty/0〜5歳", "attendance", "0〜5歳"} <= set(bt["stratum"])
    assert bt[["precision_low", "recall_low"]].notna().any().all()
