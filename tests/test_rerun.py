"""Re-runs redo only what changed: a step whose code, params, inputs and upstream outputs are unchanged (and whose
outputs exist) is skipped; what changed re-runs exactly the steps downstream of it. (Outputs edited, missing or
unreadable, forced runs and hooks: test_rerun_outputs.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import pipeline
from mimamori_lib.params import load_params
from mimamori_lib.pipeline import runner

from .conftest import kernels_running
from .reruns import params_file, run_steps


def test_nothing_changed_nothing_runs(city: Path) -> None:
    assert run_steps(city) == set()
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert {s["outcome"] for s in m["steps"].values()} == {"skipped"}
    assert m["inputs"]["gakko/shusseki.csv"] != "absent" and m["packages"]["splink"] == "5.0.0"
    assert m["params"]["extraction"]["tier_band"] == 0 and m["code"]["hash"]


def test_an_unrelated_params_value_reruns_nothing(city: Path) -> None:
    """Nor does how a run works: whether ingestion reads in a second process, whether kernels are forked, give the
    same outputs."""
    assert run_steps(city, params_file(city, "synth:\n  seed: 99\nprivacy:\n  fix_permissions: false\n"
                                             "run:\n  ingest_parallel_mb: null\n  fork_kernels: false\n")) == set()


def test_a_params_value_reruns_the_steps_that_use_it(city: Path) -> None:
    """The tier band changes the list and its judgement by strata (30_extract, on the scores 25_ranking saved), the
    meeting read-back and the report; not ingestion, 名寄せ, the models or the survey (which reads the items)."""
    assert run_steps(city, params_file(city, "extraction:\n  tier_band: 10\n")) == {"30_extract", "35_meeting", "45_cases",
                                                                                "50_evaluation"}


def test_the_steps_that_run_start_on_kernels_started_ahead(city: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 34: a run with nothing to do starts no kernel; a run after a change starts the kernels of the steps
    that will run while the steps before them run, with their libraries imported, and each step runs on its own;
    no kernel is left when the run ends."""
    started, used, kernels = [], [], {}
    real_start, real_execute = runner.start_ahead, runner.execute

    def start_ahead(pool, notebook, env, tag, work, libraries=(), fork=None):
        started.append(tag)
        kernels[tag] = (fork, real_start(pool, notebook, env, tag, work, libraries, fork))
        return kernels[tag][1]

    def execute(notebook, executed, parameters, env, tag, work=None, ahead=None, fork=None):
        used.append((tag, ahead is not None and ahead.tag == tag))
        return real_execute(notebook, executed, parameters, env, tag, work, ahead, fork)

    monkeypatch.setattr(runner, "start_ahead", start_ahead)
    monkeypatch.setattr(runner, "execute", execute)
    assert run_steps(city) == set() and started == [] and used == []
    ran = run_steps(city, params_file(city, "extraction:\n  tier_band: 10\n"))
    assert sorted(started) == sorted(f"2025:{s}" for s in ran)
    assert sorted(used) == sorted((f"2025:{s}", True) for s in ran)
    assert kernels_running() == []
    modes = {tag: (fork, ahead.future.result().provisioner.forked) for tag, (fork, ahead) in kernels.items()}
    assert modes["2025:30_extract"][0] == "now", "the first step does not wait for the fork server"
    assert all(m == ("wait", True) for tag, m in modes.items() if tag != "2025:30_extract"), (
        f"the kernels started ahead of a step that waits for others are forked from the run's fork server: {modes}")
    m = json.loads((city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8"))
    assert all(m["steps"][s]["peak_mb"] > 50 for s in ran), "each kernel's peak memory is still read"


def test_a_strata_value_reruns_the_band_judgement(city: Path) -> None:
    """Issue 35: extraction.strata.by_children was read but not declared, so its strata table kept the old setting.
    Issue 34: it is read where the band is judged (30_extract), not by the models."""
    before = pd.read_csv(city / "out" / "processed" / "fy2025" / "ranking_strata.csv")
    p = params_file(city, "extraction:\n  tier_band: 40\n  strata: {by_children: 0.9}\n")
    r = pipeline.run_year(p, str(city / "raw"), str(city / "out"), stop="35_meeting")
    assert {s["step"] for s in r.steps if s["outcome"] == "ran"} == {"30_extract"}
    after = pd.read_csv(city / "out" / "processed" / "fy2025" / "ranking_strata.csv")
    assert not after.equals(before), "the band judged again at the new setting"


def test_a_line_of_the_gaiji_table_reruns_ingestion(city: Path) -> None:
    """Issue 35: only the 外字 table's path was fingerprinted, not its content (髙 → 高 kept the old character)."""
    table = city / "gaiji.csv"
    table.write_text("コード,文字,読み\nU+E001,髙,たか\n", encoding="utf-8-sig")
    p = params_file(city, f"ingest:\n  gaiji: {table}\n")

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
    assert run_steps(city) == {"35_meeting", "45_cases", "50_evaluation"}


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


def test_a_ranking_value_reruns_the_ranking_not_the_linkage(city: Path) -> None:
    r = pipeline.run_year(params_file(city, "ranking:\n  C: 0.1\n"), str(city / "raw"), str(city / "out"), stop="30_extract")
    ran = {s["step"] for s in r.steps if s["outcome"] == "ran"}
    assert ran == {"25_ranking"}, "not ingestion or 名寄せ (the steps after it: not asked for here)"
