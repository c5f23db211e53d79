"""Ages and school grades on a date: one helper for every stage (indicators, linkage, completeness, ranking,
the assessment sheet)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# the children the programme covers: aged 0–18 on the reference date
SCOPE_AGES = (0, 18)
SCOPE_LABEL = f"{SCOPE_AGES[0]}〜{SCOPE_AGES[1]}歳"
# age bands used wherever children are grouped by age (fairness audit, public tables)
AGE_BANDS = ((0, 5, "0〜5歳"), (6, 11, "6〜11歳"), (12, 14, "12〜14歳"), (15, 18, "15〜18歳"))


def age_on(birth: pd.Series, day: dt.date | pd.Timestamp) -> pd.Series:
    """Completed years of age on ``day`` (a birthday counts on the day itself)."""
    b = pd.to_datetime(birth)
    d = pd.Timestamp(day)
    return (d.year * 10000 + d.month * 100 + d.day - (b.dt.year * 10000 + b.dt.month * 100 + b.dt.day)) // 10000


def school_grade(birth: pd.Series, fiscal_year: int) -> pd.Series:
    """School grade in the fiscal year by the Japanese cohort rule (born 2 April – 1 April): 1–6 elementary,
    7–9 junior high; outside 1–9 for children not in compulsory school."""
    b = pd.to_datetime(birth)
    cohort = np.where(b.dt.month * 100 + b.dt.day >= 402, b.dt.year, b.dt.year - 1)
    return pd.Series(fiscal_year - cohort - 6, index=b.index)


def age_band(age: pd.Series) -> pd.Series:
    """The age band of each age (``AGE_BANDS``)."""
    out = pd.Series(pd.NA, index=age.index, dtype="string")
    for lo, hi, label in AGE_BANDS:
        out[age.between(lo, hi)] = label
    return out
