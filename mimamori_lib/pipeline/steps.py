"""The steps of a year and what each reads and writes: the facts the runner fingerprints to skip a step that is up
to date, and orders steps by (one year's steps, and a later year's steps on an earlier year's outputs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..params import Params


def _sources(p: Params) -> list[str]:
    from ..ingest import load_registry

    return [spec["path"] for spec in load_registry(p).values()]


def _source_tables(p: Params) -> list[str]:
    from ..ingest import load_registry

    return [f"{sid}.parquet" for sid in load_registry(p)]


@dataclass(frozen=True)
class Step:
    """One notebook of a year."""

    name: str
    params: tuple[str, ...]                              # params fields it reads (top-level names)
    data_files: tuple[str, ...] = ()                     # params fields naming data files it reads (dotted)
    uses_key: bool = False                               # pseudonyms or 抽出ID depend on the key
    raw: Callable[[Params], list[str]] | tuple[str, ...] = ()  # files under <raw>/<fy>/ it reads
    after: tuple[str, ...] = ()                          # steps of the same year whose outputs it reads
    earlier: tuple[str, ...] = ()                        # steps of earlier years whose outputs it reads
    outputs: Callable[[Params], list[str]] | tuple[str, ...] = ()   # files it writes under <processed>/<fy>/
    optional: Callable[[Params], list[str]] | tuple[str, ...] = ()  # files it writes only when there is data
    internal: tuple[str, ...] = ()                       # files it writes under reports/internal/<fy>/
    reads: Callable[[Params], list[str]] | None = None   # the same year's files it reads (default: every output
                                                         # of the steps it comes after)
    heavy: bool = False                                  # peak memory grows with the city (run.heavy_parallel_mb)
    preload: tuple[str, ...] = ()                        # libraries its library code imports when it runs (besides
                                                         # the notebook's own imports), imported in a kernel started
                                                         # ahead for it

    def raw_files(self, p: Params) -> list[str]:
        return list(self.raw(p) if callable(self.raw) else self.raw)

    def output_files(self, p: Params) -> list[str]:
        return list(self.outputs(p) if callable(self.outputs) else self.outputs)

    def optional_files(self, p: Params) -> list[str]:
        return list(self.optional(p) if callable(self.optional) else self.optional)


COMMON = ("fiscal_year", "reference_date")
# what Beppu's rule needs (25_ranking judges it): not the tier band or the ordering of the list
RULE = ("extraction.top_basic", "extraction.top_other", "extraction.ties", "extraction.min_count",
        "extraction.supported_items")
STEPS: dict[str, Step] = {s.name: s for s in (
    Step("10_ingest", (*COMMON, "city", "ingest"), ("ingest.registry",), uses_key=True, raw=_sources,
         earlier=("10_ingest",), outputs=("ingest_summary.csv", "quarantine.csv", "restricted/identity.parquet"),
         optional=_source_tables, heavy=True),
    Step("20_link", (*COMMON, "ingest", "linkage"), ("ingest.registry",),
         raw=("linkage/review_decisions.csv", "linkage/review_queue.xlsx"), after=("10_ingest",),
         outputs=("links.parquet", "linkage_model.json", "linkage_rates.csv"), internal=("review_queue.xlsx",),
         heavy=True, preload=("splink", "duckdb", "openpyxl")),
    Step("25_ranking", (*COMMON, "years", "ingest", "indicators", "ranking", *RULE), ("ingest.registry", "indicators.catalogue"),
         after=("10_ingest", "20_link"), earlier=("10_ingest", "20_link", "25_ranking", "35_meeting"),
         outputs=("items.parquet", "evidence.parquet", "ranking.parquet", "ranking_model.json"),
         optional=("ranking_backtest.csv", "ranking_backtest_by_year.csv", "ranking_fairness.csv", "ranking_calibration.csv"),
         preload=("sklearn.linear_model", "sklearn.ensemble", "sklearn.calibration", "sklearn.metrics")),
    Step("30_extract", (*COMMON, "ingest", "indicators", "extraction", "ranking.reasons"),
         ("ingest.registry", "indicators.catalogue"), uses_key=True, after=("10_ingest", "20_link", "25_ranking"),
         earlier=("10_ingest", "20_link", "30_extract", "35_meeting"), outputs=("scores.parquet",),
         internal=("extraction.xlsx", "extraction.csv"), preload=("openpyxl",)),
    Step("35_meeting", COMMON, raw=("shien/kettei.csv",), after=("30_extract",), outputs=("decisions_quarantine.csv",),
         optional=("decisions.parquet",)),
    Step("40_survey", (*COMMON, "ingest", "survey", "disclosure"), ("ingest.registry",),
         after=("10_ingest", "20_link", "25_ranking"),
         reads=lambda p: [*STEPS["10_ingest"].output_files(p), *_source_tables(p), "links.parquet", "items.parquet"],
         optional=("survey_associations.csv", "survey_multivariable.csv", "survey_public.json"),
         preload=("statsmodels.formula.api", "statsmodels.stats.multitest", "scipy.optimize", "highspy")),
    Step("45_cases", (*COMMON, "years", "ingest", "indicators", "cases"), ("ingest.registry", "indicators.catalogue"),
         raw=("shien/jirei.csv",), after=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting"),
         earlier=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "45_cases"),
         outputs=("cases_quarantine.csv",), optional=("follow_up.parquet", "restricted/jirei.parquet"),
         internal=("jirei.html",), preload=("openpyxl",)),
    Step("50_evaluation", (*COMMON, "evaluation", "disclosure", "survey", "years", "ranking", "cases"),
         ("ingest.registry", "evaluation.narrative"),
         after=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "40_survey", "45_cases"),
         earlier=("10_ingest", "20_link", "30_extract", "35_meeting", "40_survey", "45_cases"), outputs=("public_audit.json",),
         preload=("scipy.stats", "statsmodels.stats.proportion", "statsmodels.stats.power", "scipy.optimize", "highspy")),
)}


def step(name: str) -> Step:
    """The declaration of a notebook (a notebook without one reads everything: it always runs)."""
    return STEPS.get(name) or Step(name, ())
