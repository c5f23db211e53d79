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
