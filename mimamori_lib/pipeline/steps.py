"""The steps of a year and what each reads and writes: the facts the runner fingerprints to skip a step that is up
to date, and orders steps by (one year's steps, and a later year's steps on an earlier year's outputs). What a step
writes is the data catalogue's (:mod:`mimamori_lib.catalogue`); what it reads from the exports folder is every file it
would read there, whatever its name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..params import Params
from ..rights.stops import stops_state, year_state


def _sources(p: Params) -> list[Path]:
    """Every export of the registry (the family's requests are in the step's ``state``: what concerns its year)."""
    return [p.raw_year / spec["path"] for spec in load_registry(p).values()]


def _saved(kind: str) -> Callable[[Params], list[Path]]:
    return lambda p: datasets.saved_files(p, kind)


@dataclass(frozen=True)
class Step:
    """One notebook of a year."""

    name: str
    params: tuple[str, ...]                              # params fields it reads (top-level names, or dotted)
    data_files: tuple[str, ...] = ()                     # params fields naming data files it reads (dotted)
    uses_key: bool = False                               # pseudonyms or 抽出ID depend on the key
    raw: Callable[[Params], list[Path]] | None = None    # the files under <raw>/<fy>/ it would read
    after: tuple[str, ...] = ()                          # steps of the same year whose outputs it reads
    earlier: tuple[str, ...] = ()                        # steps of earlier years whose outputs it reads
    older: tuple[str, ...] = ()                          # steps whose outputs it reads only of the years before the
                                                         # previous one (25_ranking: the judged year's own earlier
                                                         # decisions, not the judged year's meeting)
    reads: tuple[str, ...] | None = None                 # the same year's datasets it reads (default: every output
                                                         # of the steps it comes after)
    heavy: bool = False                                  # peak memory grows with the city (run.heavy_parallel_mb)
    state: Callable[[Params], object] | None = None      # what else decides its outputs, by the day (a 利用停止 that
                                                         # starts or is lifted with no file changed)
    libraries: tuple[str, ...] = ()                      # what its stage imports only as it works: imported ahead,
                                                         # with the notebook's own imports, in a kernel started for
                                                         # it while the steps before it run (only what it uses: a
                                                         # library imported for nothing costs its processor time,
                                                         # matplotlib's 0.5 s, beside the step before it)

    def reads_of(self, earlier_fy: int, years: list[int], fy: int) -> tuple[str, ...]:
        """The steps of ``earlier_fy`` (one of the run's ``years``) whose outputs this step of ``fy`` reads."""
        if earlier_fy >= fy:
            return ()
        previous = max(y for y in years if y < fy)
        return self.earlier + (self.older if earlier_fy < previous else ())

    def raw_files(self, p: Params) -> list[Path]:
        return self.raw(p) if self.raw else []

    def outputs(self, p: Params) -> list[datasets.Dataset]:
        """What it writes (10_ingest: also one table per source of the registry)."""
        out = datasets.of_step(self.name)
        if self.name == "10_ingest":
            out += [datasets.dataset(f"table:{sid}") for sid in load_registry(p)]
        return out

    def upstream(self, p: Params) -> list[datasets.Dataset]:
        """The same year's datasets it reads."""
        if self.reads is not None:
            return [d for name in self.reads for d in _expand(p, name)]
        return [d for a in self.after for d in STEPS[a].outputs(p) if d.place == "processed" and d.downstream]


def _expand(p: Params, name: str) -> list[datasets.Dataset]:
    """A dataset name, or ``tables``: every source table."""
    if name == "tables":
        return [datasets.dataset(f"table:{sid}") for sid in load_registry(p)]
    return [datasets.dataset(name)]


COMMON = ("fiscal_year", "reference_date")
# what Beppu's rule needs (25_ranking judges it): not the tier band or the ordering of the list (30_extract judges the
# band by strata, on the pair and scores 25_ranking saved)
RULE = ("extraction.top_basic", "extraction.top_other", "extraction.ties", "extraction.min_count",
        "extraction.supported_items")
STEPS: dict[str, Step] = {s.name: s for s in (
    Step("10_ingest", (*COMMON, "city", "ingest"), ("ingest.registry", "ingest.gaiji"), uses_key=True, raw=_sources,
         earlier=("10_ingest",), heavy=True, state=year_state, libraries=("pandera.pandas",)),
    Step("20_link", (*COMMON, "ingest", "linkage"), ("ingest.registry",), raw=_saved("review"), after=("10_ingest",),
         heavy=True, state=stops_state, libraries=("splink.comparison_level_library", "splink.comparison_library")),
    Step("25_ranking", (*COMMON, "years", "ingest", "indicators", "ranking", *RULE),
         ("ingest.registry", "indicators.catalogue"), after=("10_ingest", "20_link"),
         earlier=("10_ingest", "20_link", "25_ranking"), older=("35_meeting",),
         libraries=("sklearn.linear_model", "sklearn.ensemble", "sklearn.calibration", "scipy.stats", "matplotlib.pyplot")),
    Step("30_extract", (*COMMON, "city", "ingest", "indicators", "extraction", "ranking.reasons", "ranking.kinds",
                        "ranking.fairness_k", "linkage.sources", "sharing", "records.meeting"),
         ("ingest.registry", "indicators.catalogue"), uses_key=True, raw=_saved("hearing"),
         after=("10_ingest", "20_link", "25_ranking"),
         earlier=("10_ingest", "20_link", "30_extract", "35_meeting"), state=stops_state,
         libraries=("openpyxl", "jinja2", "matplotlib.pyplot")),
    Step("35_meeting", (*COMMON, "city", "ingest", "indicators", "sharing"), ("ingest.registry", "indicators.catalogue"),
         raw=_saved("decisions"), after=("10_ingest", "20_link", "25_ranking", "30_extract"),
         reads=("identity", "tables", "links", "items", "evidence", "scores"), state=stops_state,
         libraries=("openpyxl",)),
    Step("40_survey", (*COMMON, "ingest", "survey", "disclosure"), ("ingest.registry",),
         after=("10_ingest", "20_link", "25_ranking"),
         reads=("identity", "quarantine", "ingest_summary", "tables", "links", "items"),
         libraries=("statsmodels.formula.api", "scipy.stats", "matplotlib.pyplot")),
    Step("45_cases", (*COMMON, "years", "ingest", "indicators", "cases"), ("ingest.registry", "indicators.catalogue"),
         raw=_saved("cases"), after=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting"),
         earlier=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "45_cases"), state=stops_state,
         libraries=("openpyxl",)),
    Step("50_evaluation", (*COMMON, "city", "evaluation", "disclosure", "survey", "years", "ranking", "cases",
                           "extraction.ranking", "ingest.refuse", "records.department"),
         ("ingest.registry", "evaluation.narrative"),
         after=("10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "40_survey", "45_cases"),
         earlier=("10_ingest", "20_link", "30_extract", "35_meeting", "40_survey", "45_cases"),
         libraries=("scipy.stats", "scipy.optimize", "statsmodels.stats.proportion", "highspy", "matplotlib.pyplot")),
)}


def step(name: str) -> Step:
    """The declaration of a notebook (a notebook without one reads everything: it always runs)."""
    return STEPS.get(name) or Step(name, ())
