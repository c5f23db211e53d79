"""25_ranking: the backtest, the model, the fairness audit, and the list ordered by the model (issue 10)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimamori_lib import extract, ranking
from mimamori_lib.params import Ranking, load_params, year_params
from mimamori_lib.ranking import backtest as bt
from mimamori_lib.ranking import fairness, model


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Hand-made children: B07 drives the outcome, N01 is noise; households of two."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"person_id": [f"c{i:05d}" for i in range(n)], "household_id": [f"h{i // 2:05d}" for i in range(n)],
                      "age": rng.integers(0, 19, n), "B07": rng.random(n) < 0.1, "N01": rng.random(n) < 0.1})
    f[["B07", "N01"]] = f[["B07", "N01"]].astype(int)
    f["y"] = (rng.random(n) < np.where(f["B07"] == 1, 0.6, 0.03)).astype(int)
    f["supported"] = False
    return f


LABELS = {"B07": "B07 当年度欠席", "N01": "N01 家庭児童相談", "age_0": "年齢 0〜5歳"}


def test_a_planted_predictive_item_ranks_first() -> None:
    m = model.fit(_frame(), LABELS, Ranking())
    pts = model.points(m)
    assert pts.iloc[0]["特徴"] == "B07" and pts.iloc[0]["点数"] > 20, pts
    assert abs(pts.set_index("特徴").loc["N01", "点数"]) <= 3
    f = _frame(50, seed=1)
    reasons = model.reasons(m, f, 2)
    assert (reasons[f["B07"] == 1].str.startswith("B07")).all() and not reasons[f["B07"] == 0].str.contains("B07").any()


def test_the_logistic_model_is_fitted_once_per_distinct_child_and_learns_the_same() -> None:
    """Children with the same features and outcome are one weighted row of the fit: the same penalised likelihood,
    so the same coefficients as a fit on every child, from a few dozen rows instead of thousands."""
    from sklearn.linear_model import LogisticRegression

    f = _frame(5000)
    x, y = model.design(f, list(LABELS)), f["y"].to_numpy(int)
    xs, ys, w = model.collapsed(x, y)
    assert len(ys) <= 2 * 2 ** len(LABELS) and w.sum() == len(y)
    every = LogisticRegression(C=Ranking().C, max_iter=2000).fit(x, y)
    m = model.fit(f, LABELS, Ranking())
    np.testing.assert_allclose(m.estimator.coef_, every.coef_, atol=1e-8)
    np.testing.assert_allclose(m.predict(f), every.predict_proba(x)[:, 1], atol=1e-10)
    assert m.n == len(y) and m.data_sha256 == model.data_hash(x, y), "what it was trained on: every child"
    counts = x + np.arange(len(x))[:, None] % 3  # not 0/1: fitted row by row
    assert model.collapsed(counts, y)[2] is None


def test_cross_fitting_never_sees_the_childs_household() -> None:
    f = _frame()
    folds = model.fold_of(f["household_id"], 5)
    assert (pd.Series(folds).groupby(f["household_id"].to_numpy()).nunique() == 1).all()
    s = model.crossfit(f, LABELS, Ranking())
    assert np.isfinite(s).all() and s[f["B07"] == 1].mean() > 5 * s[f["B07"] == 0].mean()


def test_nationality_and_sex_are_never_features(smoke_run: Path) -> None:
    p = load_params("params/fy2025.yaml", {"raw_dir": str(smoke_run / "raw"), "out_dir": str(smoke_run / "out")})
    from mimamori_lib.judgement.indicators import load_catalogue

    names = set(model.features(load_catalogue(p, every_item=True)))
    assert not names & {"sex", "foreign", "nationality"} and "B07" in names and "near_B06" in names


def test_the_outcome_itself_has_precision_one_and_ties_share_places() -> None:
    f = _frame()
    y = f["y"].to_numpy()
    t = bt.backtest(f, {"outcome": y.astype(float)}, None, [10, int(y.sum())])
    assert (t["precision"] == 1.0).all() and t["recall"].iloc[-1] == 1.0
    w = bt.list_weights(np.array([3, 2, 2, 2, 1.0]), np.ones(5, bool), 2)
    assert w.tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3, 0]), "three tied for one place share it"
    from statsmodels.stats.proportion import proportion_confint

    assert bt.wilson(7, 30) == pytest.approx(proportion_confint(7, 30, method="wilson"))


def test_fairness_flags_a_group_the_list_misses() -> None:
    f = _frame(4000)
    f["sex"] = np.where(np.arange(len(f)) % 2 == 0, "男", "女")
    f["foreign"], f["single_parent"], f["disability"], f["age_band"] = "日本国籍", "その他の世帯", "障害なし", "6〜11歳"
    # a list that finds only boys
    s = f["y"].to_numpy(float) * (f["sex"] == "男").to_numpy()
    w = bt.list_weights(s, np.ones(len(f), bool), 200)
    table = fairness.audit(f, {"count": w})
    assert list(table.columns[:8]) == fairness.COLUMNS
    flags = fairness.flags(table).set_index(["属性", "グループ"])
    assert "再現率" in flags.loc[("性別", "女"), "判定"] and "低い" in flags.loc[("性別", "女"), "判定"]


@pytest.fixture(scope="module")
def run(smoke_run: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ranking")
    for d in ("raw", "out"):
        shutil.copytree(smoke_run / d, root / d)
    return root


def _params(root: Path, fy: int = 2025, **over):
    p = load_params("params/fy2025.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out"), **over})
    return year_params(p, fy)


def test_backtest_and_audit_written(run: Path) -> None:
    p = _params(run)
    res = ranking.run(p)
    t = pd.read_csv(p.processed / "ranking_backtest.csv")
    assert list(t.columns) == ["ranking", "k", "listed", "hits", "precision", "ci_low", "ci_high", "recall", "base_rate"]
    assert {"rule", "count", "model"} == set(t["ranking"]) and set(t.loc[t["ranking"] == "model", "k"]) == {30, 50, 100, 300}
    fa = pd.read_csv(p.processed / "ranking_fairness.csv")
    assert list(fa.columns) == ["ranking", "attribute", "group", "population", "listed", "hits", "precision", "recall"]
    assert set(fa["attribute"]) == {"sex", "foreign", "single_parent", "disability", "age_band"}
    import json

    saved = json.loads((p.processed / "ranking_model.json").read_text(encoding="utf-8"))
    assert saved["trained_on"] == [[2024, 2025]] and len(saved["training_data_sha256"]) == 64
    assert set(saved["coefficients"]) == set(res.fitted.names)


def test_same_inputs_same_scores(run: Path) -> None:
    p = _params(run)
    a, b = ranking.run(p, write=False), ranking.run(p, write=False)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    pd.testing.assert_frame_equal(a.backtest, b.backtest)


def test_next_year_features_never_reach_the_judged_years_scores(run: Path, monkeypatch) -> None:
    p = _params(run)
    before = ranking.run(p, write=False)
    real = ranking.year_frame

    def permuted(q, items, ev, catalogue, **kw):
        f = real(q, items, ev, catalogue, **kw)
        if q.fiscal_year == 2025:  # the year whose outcomes judge FY2024: shuffle its features between children
            cols = [c for c in f.columns if c not in ("person_id", "household_id", "supported")]
            f[cols] = f[cols].sample(frac=1.0, random_state=3).to_numpy()
        return f

    monkeypatch.setattr(ranking, "year_frame", permuted)
    after = ranking.run(p, write=False)
    pd.testing.assert_frame_equal(before.backtest, after.backtest)
    assert not np.allclose(before.frame["model_risk"], after.frame["model_risk"]), "this year's scores do use them"


def test_without_an_earlier_year_the_count_ranking_stays(run: Path) -> None:
    p = _params(run, 2024)
    res = ranking.run(p)
    assert res.fitted is None and "件数の順" in res.message and res.frame["model_risk"].isna().all()
    assert not (p.processed / "ranking_backtest.csv").exists()
    q = p.with_overrides({"extraction": {"exclude_supported": True, "tier_band": 20, "ranking": "model"}})
    out = extract.run(q, write=False)
    tier = out.scores[out.scores["group"] == "tier"]
    assert len(tier) >= 20, "fallback: the count ranking (ties listed together)"


def test_the_list_ordered_by_the_model(run: Path) -> None:
    """With the strata off, one model orders the whole band (the strata: tests/test_strata.py)."""
    p = _params(run).with_overrides({"extraction": {"exclude_supported": True, "tier_band": 40, "ranking": "model",
                                                    "strata": {"enabled": False}}})
    ranking.run(p)
    out = extract.run(p)
    s = out.scores
    tier = s[s["group"] == "tier"]
    assert len(tier) == 40, "tier_band K lists K children"
    rest = s[(s["group"] == "") & ~s["supported"] & ((s["basic_count"] + s["other_count"]) >= 1)]
    assert tier["model_risk"].min() >= rest["model_risk"].max()
    table = pd.read_csv(p.internal / "extraction.csv", dtype=str, keep_default_na=False)
    listed = table[table["グループ"] == "次点層 (未支援)"]
    assert (listed["リスク値"].astype(float) > 0).all() and (listed["主な理由"] != "").mean() > 0.9


def test_public_backtest_hides_small_hits_and_what_is_computed_from_them() -> None:
    from mimamori_lib.disclosure.system import audit, intervals
    from mimamori_lib.ranking.public import POS, _key, backtest_system

    t = pd.DataFrame({"ranking": ["count"] * 3, "k": [30, 50, 100], "hits": [3.2, 8.0, 12.0]})
    s = backtest_system(t, positives=40, threshold=5)
    assert _key("count", 30) not in s.published and POS in s.published
    from mimamori_lib.disclosure.system import protect_system

    s = protect_system(s, 3)
    assert audit(s, 3, fresh=True).passed
    lo, hi = intervals(s, [_key("count", 30)])[_key("count", 30)]
    assert hi - lo >= 3, "the hidden count is not pinned by the longer lists' counts"


def test_public_section_of_the_report(run: Path) -> None:
    from mimamori_lib.disclosure.render import assert_protected
    from mimamori_lib.ranking.public import public_backtest

    p = _params(run)
    ranking.run(p)
    table, lines, result = public_backtest(p)
    assert_protected(table, "ranking")
    assert result is not None and result.passed
    hidden = table["翌年度に結果あり"] == "＊"
    assert table.loc[hidden, "適合率"].isna().all() and (table.loc[hidden, "95%CI"] == "—").all()
    text = "\n".join(lines)
    assert "支援の必要そのものではありません" in text and "標本外" in text
