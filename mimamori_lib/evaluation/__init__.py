"""評価: each year's support funnel and process indicators, the comparison across years with honest statistics,
and the staff hearing. Every table meant for the public report is disclosure-controlled and audited
(:mod:`mimamori_lib.disclosure`).

Modules: :mod:`.funnel` (the funnel, its system, the FY comparison), :mod:`.process` (process indicators),
:mod:`.staff_hearing` (職員ヒアリング), :mod:`.public_follow_up` (what the next year showed of the judged children),
:mod:`.narrative` (the city's texts), :mod:`.report` (what the report shows; :func:`run`, the stage's entry point).
"""

from .funnel import (
    FUNNEL_ROWS,
    compare_proportions,
    comparison_reading,
    funnel,
    funnel_system,
    publish,
    timing_lines,
)
from .process import process_indicators, process_table
from .report import TITLES, EvaluationResult, cover, funnel_plot, glossary, overview_text, run
from .staff_hearing import code_comments, hearing, likert_summary, likert_tests, theme_counts

__all__ = ["FUNNEL_ROWS", "code_comments", "compare_proportions", "comparison_reading", "EvaluationResult", "TITLES", "cover", "glossary", "run", "funnel", "funnel_plot",
           "funnel_system", "hearing", "likert_summary", "likert_tests", "overview_text", "process_indicators",
           "process_table", "publish", "theme_counts", "timing_lines"]
