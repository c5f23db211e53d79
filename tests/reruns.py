"""What the re-run tests share: a year run on a copy of the small city (``city``) that says which steps ran, and a
params file that changes one value."""

from __future__ import annotations

from pathlib import Path

from mimamori_lib import pipeline

ALL = {"10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "40_survey", "45_cases",
       "50_evaluation"}


def run_steps(city: Path, params: str | Path = "params/fy2025.yaml", **kw) -> set[str]:
    """The steps that ran (every step of the year is reported, run or skipped)."""
    r = pipeline.run_year(params, str(city / "raw"), str(city / "out"), **kw)
    assert {s["step"] for s in r.steps} == ALL
    return {s["step"] for s in r.steps if s["outcome"] == "ran"}


def params_file(city: Path, text: str) -> Path:
    """FY2025's params with ``text`` (YAML) over them."""
    f = city / "mine.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\n{text}", encoding="utf-8")
    return f
