"""Re-runs and outputs: an output edited by hand or missing, or a report that would not work offline, is made
again; a report that cannot be written fails its step; --force and --from; a hook that changes its step's inputs
runs it again once; a large city's heavy steps run alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import pipeline
from mimamori_lib.params import load_params, year_params
from mimamori_lib.pipeline import runner

from .reruns import params_file, run_steps


def test_an_output_edited_by_hand_is_made_again(city: Path) -> None:
    """An output is what its step wrote, or it is made again: a links table edited by hand makes 名寄せ run again,
    and the steps after it read what 名寄せ wrote, not the edit. 名寄せ on the same exports writes the same links and
    model, so no step after it runs again (its training time and EM record are read by no later step)."""
    p = load_params("params/fy2025.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    original = pd.read_parquet(p.processed / "links.parquet")
    edited = original.copy()
    edited.loc[edited.index[0], "status"] = "unmatched"
    edited.to_parquet(p.processed / "links.parquet", index=False)
    ran = run_steps(city)
    assert ran == {"20_link"}
    pd.testing.assert_frame_equal(pd.read_parquet(p.processed / "links.parquet"), original)


def test_force_and_from(city: Path) -> None:
    """--from re-runs that step on; --force everything, reported in notebook order whatever order the steps ran in
    (critical path first, side by side)."""
    assert run_steps(city, from_step="40_survey") == {"40_survey", "45_cases", "50_evaluation"}
    r = pipeline.run_year("params/fy2025.yaml", str(city / "raw"), str(city / "out"), force=True, start="35_meeting")
    late = ["35_meeting", "40_survey", "45_cases", "50_evaluation"]
    assert [s["step"] for s in r.steps] == late and {s["outcome"] for s in r.steps} == {"ran"}


def test_missing_outputs_are_made_again(city: Path) -> None:
    (city / "out" / "reports" / "internal" / "fy2025" / "extraction.xlsx").unlink()
    ran = run_steps(city)
    assert "30_extract" in ran and (city / "out" / "reports" / "internal" / "fy2025" / "extraction.xlsx").exists()


def test_a_large_city_runs_ingestion_and_linkage_alone(smoke_run: Path, tmp_path: Path) -> None:
    """With `run.heavy_parallel_mb` below the exports' size, no step runs beside 10_ingest or 20_link (FY2025's
    ingestion and FY2024's ranking are ready together; they run one after the other)."""
    shutil.copytree(smoke_run / "raw", tmp_path / "raw")
    f = params_file(tmp_path, "run:\n  heavy_parallel_mb: 0\n  workers: 2\n")
    base = load_params(f, {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out")})
    years = {fy: year_params(base, fy) for fy in (2024, 2025)}
    steps = {2024: ["10_ingest", "20_link", "25_ranking"], 2025: ["10_ingest"]}
    results = pipeline.run_plan(pipeline.Plan(years, steps, force=True))
    ran = sorted((s["started"], s["ended"], s["step"]) for r in results for s in r.steps)
    assert len(ran) == 4
    assert all(a_end <= b_start + 0.5 for (_, a_end, _), (b_start, _, _) in zip(ran, ran[1:], strict=False))


def test_a_report_that_cannot_be_written_fails_its_step(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run stops with the reason; the step has no record of success, so it runs again next time (with the
    steps after it, which did not start)."""
    real = runner.to_html

    def to_html(executed, target):
        if target.stem == "45_cases":
            raise ValueError("オフラインで開けない HTML です")
        return real(executed, target)

    monkeypatch.setattr(runner, "to_html", to_html)
    f = params_file(city, "extraction:\n  tier_band: 10\n")
    with pytest.raises(ValueError, match="オフライン"):
        pipeline.run_year(f, str(city / "raw"), str(city / "out"))
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert m["steps"]["45_cases"]["outcome"] == "failed" and m["steps"]["35_meeting"]["outcome"] == "ran"
    monkeypatch.setattr(runner, "to_html", real)
    assert run_steps(city, f) == {"45_cases", "50_evaluation"}


def test_a_report_that_loads_from_the_internet_is_made_again(city: Path) -> None:
    """A report left by an older version (scripts from a CDN) is not taken as up to date, nor published."""
    from mimamori_lib.output.offline import works_offline

    reports = city / "out" / "reports"
    old = reports / "fy2025" / "50_evaluation.html"
    old.write_text(old.read_text(encoding="utf-8").replace(
        "</head>", '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script></head>'),
        encoding="utf-8")
    assert not works_offline(old)
    assert run_steps(city) == {"50_evaluation"}
    assert works_offline(old) and works_offline(reports / "public" / "成果報告会_2025.html")


def test_a_hook_that_changes_its_steps_inputs_runs_the_step_again_once(city: Path) -> None:
    """A hook after 30_extract that writes what 30_extract reads (a school's hearing answers) makes the runner run
    30_extract again at once, before the steps after it; the hook is not called again, and the next run is clean."""
    from openpyxl import load_workbook

    base = load_params("params/fy2025.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    p = year_params(base, 2025)
    calls = []

    def school_answers_again() -> None:
        calls.append(1)
        f = sorted((city / "raw" / "fy2025" / "kikitori").glob("*.xlsx"))[0]
        wb = load_workbook(f)
        wb.active.append([" "])  # saved again by the school: a blank row, the same answers
        wb.save(f)

    plan = pipeline.Plan({2025: p}, {2025: pipeline.notebooks_for(p)}, {pipeline.Node(2025, "30_extract"): school_answers_again})
    steps = pipeline.run_plan(plan)[0].steps
    ran = [s["step"] for s in steps if s["outcome"] == "ran"]
    assert calls == [1] and ran == ["30_extract"], "run again once; nothing after it changed"
    assert [s["step"] for s in steps].count("30_extract") == 1
    assert run_steps(city) == set()


def test_notices_are_kept_in_step_order(tmp_path: Path) -> None:
    """Steps of a year run side by side: the notices file lists them by step, not by which finished first, so the
    same run writes the same file."""
    from mimamori_lib.catalogue import notices

    p = load_params("params/fy2025.yaml", {"out_dir": str(tmp_path / "out")})
    for step, message in (("45_cases", "事例"), ("30_extract", "名寄せ"), ("45_cases", "事例 2"), ("10_ingest", "取込")):
        notices.add(p, step, message)
    assert [(n["step"], n["message"]) for n in notices.read(p)] == [
        ("10_ingest", "取込"), ("30_extract", "名寄せ"), ("45_cases", "事例"), ("45_cases", "事例 2")]
