"""生活習慣等調査の分析 (40_survey): the survey linked to the registry's children, associations of each answer pattern
with poverty and non-attendance (logistic regression adjusted for grade and sex, Benjamini–Hochberg), tables under
disclosure control. Module: :mod:`.analysis`."""

from __future__ import annotations

import logging
import time

from ..catalogue import datasets
from ..params import Params
from .analysis import (
    SurveyResult,
    analysis_frame,
    associations,
    forest_plot,
    labelled,
    load_results,
    multivariable,
    plain_reading,
    public_associations,
    public_crosstab,
    public_distributions,
    response_summary,
)

log = logging.getLogger(__name__)


def run(p: Params, write: bool = True) -> SurveyResult:
    """The survey analysis of the year (empty when the year has no survey)."""
    t0 = time.perf_counter()
    df = analysis_frame(p)
    if df is None:
        log.info("生活習慣等調査のデータがありません (FY%s)", p.fiscal_year)
        return SurveyResult()
    assoc = associations(p, df)
    multi = multivariable(p, df)
    if write:
        datasets.write(p, "survey_associations", assoc)
        datasets.write(p, "survey_multivariable", multi)
    return SurveyResult(df, assoc, multi, round(time.perf_counter() - t0, 2))


__all__ = ["SurveyResult", "forest_plot", "labelled", "load_results", "plain_reading", "public_associations",
           "public_crosstab", "public_distributions", "response_summary", "run"]
