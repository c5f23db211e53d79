"""生活習慣等調査: the planted effects of the synthetic city are recovered; null items are not declared significant."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mimamori_lib import survey
from mimamori_lib.judgement.scoring import score_year, write_items
from mimamori_lib.survey import plain_reading


def test_planted_effects_recovered(beppu: Path, beppu_processed) -> None:
    p, _, _ = beppu_processed
    write_items(p)
    score_year(p)
    res = survey.run(p)
    out = pd.read_csv(p.processed / "survey_associations.csv")
    assert list(out.columns) == ["item", "outcome", "n", "odds_ratio", "ci_low", "ci_high", "p_value", "q_value",
                                 "n11", "n10", "n01", "n00"]
    assert (out[["n11", "n10", "n01", "n00"]].sum(axis=1) == out["n"]).all()
    planted = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "planted_effects.csv")
    planted["outcome"] = planted["outcome"].replace({"refusal": "non_attendance"})
    m = out.merge(planted, on=["item", "outcome"])
    direct = m[m["direct"] & m["planted_odds_ratio"].notna()]
    covered = (direct["ci_low"] <= direct["planted_odds_ratio"]) & (direct["planted_odds_ratio"] <= direct["ci_high"])
    assert len(direct) == 10 and covered.sum() >= 9, direct
    null = m[m["planted_odds_ratio"] == 1.0]
    assert len(null) == 2 and (null["q_value"] >= 0.05).all(), "null items are not significant after correction"
    text = "".join(plain_reading(p, res.associations, res.multivariable))
    assert "原因" in text and "補正" in text


def test_a_model_fitted_once_per_distinct_answer_is_the_per_respondent_model() -> None:
    """The survey's logistic regressions are fitted on the distinct rows weighted by their respondents: the same
    estimates, standard errors and respondents as statsmodels' Logit on one row per respondent."""
    import numpy as np
    import statsmodels.formula.api as smf

    from mimamori_lib.survey.analysis import _fit

    rng = np.random.default_rng(5)
    n = 6000
    d = pd.DataFrame({"item": rng.integers(0, 2, n), "grade": rng.integers(1, 10, n),
                      "sex": pd.array(rng.choice(["1", "2"], n), dtype="string[pyarrow]")})
    d["poverty"] = (rng.random(n) < 1 / (1 + np.exp(2 - 0.8 * d["item"] - 0.1 * d["grade"]))).astype(int)
    formula = "poverty ~ item + C(grade) + C(sex)"
    got, respondents = _fit(formula, d)
    ref = smf.logit(formula, d.assign(sex=d["sex"].astype(object))).fit(disp=0, tol=1e-12)
    assert respondents == n
    np.testing.assert_allclose(got.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(got.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-8)
    assert abs(got.pseudo_rsquared(kind="mcf") - ref.prsquared) < 1e-8
