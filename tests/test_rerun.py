"""Re-runs redo only what changed: a step whose code, params, inputs and upstream outputs are unchanged (and whose
outputs exist) is skipped; what changed re-runs exactly the steps downstream of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import pipeline
from mimamori_lib.params import load_params, year_params
from mimamori_lib.pipeline import runner

from .conftest import kernels_running

ALL = {"10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "40_survey", "45_cases",
       "50_evaluation"}


@pytest.fixture
def city(smoke_run: Path, tmp_path: Path) -> Path:
    """A copy of the small city's exports and of both years' outputs (as the demo left them)."""
    shutil.copytree(smoke_run / "raw", tmp_path / "raw")
    shutil.copytree(smoke_run / "out", tmp_path / "out")
    return tmp_path


def _run(city: Path, params: str | Path = "params/fy2025.yaml", **kw) -> set[str]:
    r = pipeline.run_year(params, str(city / "raw"), str(city / "out"), **kw)
    assert {s["step"] for s in r.steps} == ALL
    return {s["step"] for s in r.steps if s["outcome"] == "ran"}


def _params(city: Path, text: str) -> Path:
    f = city / "mine.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\n{text}", encoding="utf-8")
    return f


def test_nothing_changed_nothing_runs(city: Path) -> None:
    assert _run(city) == set()
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert {s["outcome"] for s in m["steps"].values()} == {"skipped"}
    assert m["inputs"]["gakko/shusseki.csv"] != "absent" and m["packages"]["splink"] == "5.0.0"
    assert m["params"]["extraction"]["tier_band"] == 0 and m["code"]["hash"]


def test_an_unrelated_params_value_reruns_nothing(city: Path) -> None:
    assert _run(city, _params(city, "synth:\n  seed: 99\nprivacy:\n  fix_permissions: false\n")) == set()


def test_a_params_value_reruns_the_steps_that_use_it(city: Path) -> None:
    """The tier band changes the list and its judgement by strata (30_extract, on the scores 25_ranking saved), the
    meeting read-back and the report; not ingestion, 名寄せ, the models or the survey (which reads the items)."""
    assert _run(city, _params(city, "extraction:\n  tier_band: 10\n")) == {"30_extract", "35_meeting", "45_cases",
                                                                                "50_evaluation"}


def test_the_steps_that_run_start_on_kernels_started_ahead(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 34: a run with nothing to do starts no kernel; a run after a change starts the kernels of the steps
    that will run while the steps before them run, with their libraries imported, and each step runs on its own;
    no kernel is left when the run ends."""
    started, used = [], []
    real_start, real_execute = runner.start_ahead, runner.execute

    def start_ahead(pool, notebook, env, tag, work, libraries=()):
        started.append(tag)
        return real_start(pool, notebook, env, tag, work, libraries)

    def execute(notebook, executed, parameters, env, tag, work=None, ahead=None):
        used.append((tag, ahead is not None and ahead.tag == tag))
        return real_execute(notebook, executed, parameters, env, tag, work, ahead)

    monkeypatch.setattr(runner, "start_ahead", start_ahead)
    monkeypatch.setattr(runner, "execute", execute)
    assert _run(city) == set() and started == [] and used == []
    ran = _run(city, _params(city, "extraction:\n  tier_band: 10\n"))
    assert sorted(started) == sorted(f"2025:{s}" for s in ran)
    assert sorted(used) == sorted((f"2025:{s}", True) for s in ran)
    assert kernels_running() == []
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert all(m["steps"][s]["peak_mb"] > 50 for s in ran), "each kernel's peak memory is still read"


def test_a_strata_value_reruns_the_band_judgement(city: Path) -> None:
    """Issue 35: extraction.strata.by_children was read but not declared, so its strata table kept the old setting.
    Issue 34: it is read where the band is judged (30_extract), not by the models."""
    before = pd.read_csv(city / "out" / "processed" / "fy2025" / "ranking_strata.csv")
    p = _params(city, "extraction:\n  tier_band: 40\n  strata: {by_children: 0.9}\n")
    r = pipeline.run_year(p, str(city / "raw"), str(city / "out"), stop="35_meeting")
    assert {s["step"] for s in r.steps if s["outcome"] == "ran"} == {"30_extract"}
    after = pd.read_csv(city / "out" / "processed" / "fy2025" / "ranking_strata.csv")
    assert not after.equals(before), "the band judged again at the new setting"


def test_a_line_of_the_gaiji_table_reruns_ingestion(city: Path) -> None:
    """Issue 35: only the 外字 table's path was fingerprinted, not its content (髙 → 高 kept the old character)."""
    table = city / "gaiji.csv"
    table.write_text("コード,文字,読み\nU+E001,髙,たか\n", encoding="utf-8-sig")
    p = _params(city, f"ingest:\n  gaiji: {table}\n")

    def ingest_ran() -> bool:
        r = pipeline.run_year(p, str(city / "raw"), str(city / "out"), stop="20_link")
        return [s["outcome"] for s in r.steps] == ["ran"]

    assert ingest_ran() and not ingest_ran()
    table.write_text("コード,文字,読み\nU+E001,高,たか\n", encoding="utf-8-sig")
    assert ingest_ran(), "a line of the table changed: ingestion runs again"


def test_an_input_file_reruns_exactly_the_steps_downstream(city: Path) -> None:
    from openpyxl import load_workbook

    f = city / "raw" / "fy2025" / "shien" / "kettei.xlsx"
    wb = load_workbook(f)
    ws = wb.active
    c = ws.cell(2, [x.value for x in ws[1]].index("支援要否") + 1)
    c.value = "保留" if c.value != "保留" else "否"
    wb.save(f)
    assert _run(city) == {"35_meeting", "45_cases", "50_evaluation"}


def test_the_previous_years_decisions_rerun_the_list_not_the_ranking(city: Path) -> None:
    """FY2024's meeting decides who is supported in FY2025's list, so saving them again re-runs FY2025's extraction;
    FY2025's ranking judges FY2024's children as FY2024's list saw them (before that meeting), so it is up to date."""
    from openpyxl import load_workbook

    f = city / "raw" / "fy2024" / "shien" / "kettei.xlsx"
    wb = load_workbook(f)
    ws = wb.active
    col = [x.value for x in ws[1]].index("支援要否") + 1
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, col).value == "要")
    ws.cell(row, col).value = "否"
    wb.save(f)
    base = load_params("params/fy2025.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    ran = {(r.fiscal_year, s["step"]) for r in pipeline.run_all(base) for s in r.steps if s["outcome"] == "ran"}
    assert (2024, "35_meeting") in ran and (2025, "30_extract") in ran
    assert (2025, "25_ranking") not in ran and (2025, "20_link") not in ran


def test_an_output_edited_by_hand_is_made_again(city: Path) -> None:
    """An output is what its step wrote, or it is made again: a links table edited by hand makes 名寄せ run again,
    and the steps after it read what 名寄せ wrote, not the edit. 名寄せ on the same exports writes the same links and
    model, so no step after it runs again (its training time and EM record are read by no later step)."""
    p = load_params("params/fy2025.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    original = pd.read_parquet(p.processed / "links.parquet")
    edited = original.copy()
    edited.loc[edited.index[0], "status"] = "unmatched"
    edited.to_parquet(p.processed / "links.parquet", index=False)
    ran = _run(city)
    assert ran == {"20_link"}
    pd.testing.assert_frame_equal(pd.read_parquet(p.processed / "links.parquet"), original)


def test_a_ranking_value_reruns_the_ranking_not_the_linkage(city: Path) -> None:
    r = pipeline.run_year(_params(city, "ranking:\n  C: 0.1\n"), str(city / "raw"), str(city / "out"), stop="30_extract")
    ran = {s["step"] for s in r.steps if s["outcome"] == "ran"}
    assert ran == {"25_ranking"}, "not ingestion or 名寄せ (the steps after it: not asked for here)"


def test_force_and_from(city: Path) -> None:
    """--from re-runs that step on; --force everything, reported in notebook order whatever order the steps ran in
    (critical path first, side by side)."""
    assert _run(city, from_step="40_survey") == {"40_survey", "45_cases", "50_evaluation"}
    r = pipeline.run_year("params/fy2025.yaml", str(city / "raw"), str(city / "out"), force=True, start="35_meeting")
    late = ["35_meeting", "40_survey", "45_cases", "50_evaluation"]
    assert [s["step"] for s in r.steps] == late and {s["outcome"] for s in r.steps} == {"ran"}


def test_missing_outputs_are_made_again(city: Path) -> None:
    (city / "out" / "reports" / "internal" / "fy2025" / "extraction.xlsx").unlink()
    ran = _run(city)
    assert "30_extract" in ran and (city / "out" / "reports" / "internal" / "fy2025" / "extraction.xlsx").exists()


def test_a_large_city_runs_ingestion_and_linkage_alone(smoke_run: Path, tmp_path: Path) -> None:
    """With `run.heavy_parallel_mb` below the exports' size, no step runs beside 10_ingest or 20_link (FY2025's
    ingestion and FY2024's ranking are ready together; they run one after the other)."""
    shutil.copytree(smoke_run / "raw", tmp_path / "raw")
    f = _params(tmp_path, "run:\n  heavy_parallel_mb: 0\n  workers: 2\n")
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
    f = _params(city, "extraction:\n  tier_band: 10\n")
    with pytest.raises(ValueError, match="オフライン"):
        pipeline.run_year(f, str(city / "raw"), str(city / "out"))
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert m["steps"]["45_cases"]["outcome"] == "failed" and m["steps"]["35_meeting"]["outcome"] == "ran"
    monkeypatch.setattr(runner, "to_html", real)
    assert _run(city, f) == {"45_cases", "50_evaluation"}


def test_a_report_that_loads_from_the_internet_is_made_again(city: Path) -> None:
    """A report left by an older version (scripts from a CDN) is not taken as up to date, nor published."""
    from mimamori_lib.output.offline import works_offline

    reports = city / "out" / "reports"
    old = reports / "fy2025" / "50_evaluation.html"
    old.write_text(old.read_text(encoding="utf-8").replace(
        "</head>", '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script></head>'),
        encoding="utf-8")
    assert not works_offline(old)
    assert _run(city) == {"50_evaluation"}
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
    assert _run(city) == set()


def test_notices_are_kept_in_step_order(tmp_path: Path) -> None:
    """Steps of a year run side by side: the notices file lists them by step, not by which finished first, so the
    same run writes the same file."""
    from mimamori_lib.catalogue import notices

    p = load_params("params/fy2025.yaml", {"out_dir": str(tmp_path / "out")})
    for step, message in (("45_cases", "事例"), ("30_extract", "名寄せ"), ("45_cases", "事例 2"), ("10_ingest", "取込")):
        notices.add(p, step, message)
    assert [(n["step"], n["message"]) for n in notices.read(p)] == [
        ("10_ingest", "取込"), ("30_extract", "名寄せ"), ("45_cases", "事例"), ("45_cases", "事例 2")]
