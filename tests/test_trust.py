"""A run never trusts what it did not finish (issue 23): a step killed after writing, an output replaced by another
file, review answers under any name, two runs at once, a different, missing or empty key, and no file of a run left
in the system's temporary folder after a failed 名寄せ. Each fault gives the list a clean run gives (child by child)
or one clear line and a non-zero exit."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import cli, paths, pipeline
from mimamori_lib.catalogue.datasets import dataset
from mimamori_lib.params import load_params, year_params
from mimamori_lib.pipeline.lock import run_lock


def _params(city: Path, fy: int = 2025):
    return load_params(f"params/fy{fy}.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})


def _run(city: Path, **kw) -> set[str]:
    r = pipeline.run_year("params/fy2025.yaml", str(city / "raw"), str(city / "out"), **kw)
    return {s["step"] for s in r.steps if s["outcome"] == "ran"}


def _list(city: Path) -> pd.DataFrame:
    """The FY2025 extraction list, child by child (宛名番号, group, rank)."""
    f = city / "out" / "reports" / "internal" / "fy2025" / "extraction.csv"
    t = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return t[["宛名番号", "グループ", "順位"]].sort_values(["グループ", "順位", "宛名番号"]).reset_index(drop=True)


def _cli(city: Path, *extra: str) -> list[str]:
    return ["run", "--params", "params/fy2025.yaml", "--raw-dir", str(city / "raw"), "--out-dir", str(city / "out"), *extra]


def test_a_step_killed_after_writing_runs_again(city: Path) -> None:
    """A cut registry is ingested, the run is killed (SIGKILL of its process group) right after the table is written;
    the registry is put back: the next run ingests again and gives the clean list."""
    clean = _list(city)
    juki = city / "raw" / "fy2025" / "shimin" / "juki.csv"
    full = juki.read_bytes()
    lines = full.splitlines(keepends=True)
    juki.write_bytes(b"".join(lines[: 1 + (len(lines) - 1) * 3 // 4]))
    table = city / "out" / "processed" / "fy2025" / "juki.parquet"
    clean_rows = len(pd.read_parquet(table))
    before = table.stat().st_mtime_ns
    env = {**os.environ, "PYTHONPATH": str(paths.ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mimamori_lib.cli", *_cli(city, "--force")], env=env, cwd=paths.ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while table.stat().st_mtime_ns == before and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    assert len(pd.read_parquet(table)) < clean_rows * 0.8, f"the cut table was written before the kill: {err[-2000:]}"
    juki.write_bytes(full)
    ran = _run(city)
    assert "10_ingest" in ran
    assert len(pd.read_parquet(table)) == clean_rows
    pd.testing.assert_frame_equal(_list(city), clean)
    assert not list((city / "out").rglob("*.tmp*")), "a killed run's temporary files are removed"


def test_an_output_replaced_by_another_file_is_made_again(city: Path, caplog) -> None:
    clean = _list(city)
    processed = city / "out" / "processed"
    shutil.copy2(processed / "fy2024" / "juki.parquet", processed / "fy2025" / "juki.parquet")
    with caplog.at_level("INFO"):
        ran = _run(city)
    assert "10_ingest" in ran
    assert any("10_ingest" in r.message and "出力が前回の記録と異なる" in r.message and "juki.parquet" in r.message
               for r in caplog.records)
    pd.testing.assert_frame_equal(_list(city), clean)


def test_review_answers_under_any_name_are_read(city: Path) -> None:
    """The queue saved as linkage/review_queue_kakunin.xlsx: 20_link runs and reads it."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "要確認"
    ws.append(["ファイル", "行", "宛名番号", "判定"])
    ws.append(["gakko/shusseki.csv", 1, "0000000001", "一致"])
    d = city / "raw" / "fy2025" / "linkage"
    d.mkdir(parents=True, exist_ok=True)
    wb.save(d / "review_queue_kakunin.xlsx")
    r = pipeline.run_year("params/fy2025.yaml", str(city / "raw"), str(city / "out"), stop="25_ranking")
    assert [s["outcome"] for s in r.steps if s["step"] == "20_link"] == ["ran"]
    report = pd.read_csv(city / "out" / "processed" / "fy2025" / "review_decisions_report.csv", encoding="utf-8-sig")
    assert "review_queue_kakunin.xlsx" in set(report["file"])


def test_two_runs_at_once_stop_the_second(city: Path, capsys) -> None:
    root = city / "out" / "processed"
    with run_lock(root / dataset("run_lock").file):
        code = cli.main(_cli(city))
    err = capsys.readouterr().err
    assert code == 2 and "別の実行が進行中です" in err and str(os.getpid()) in err and "Traceback" not in err


def test_a_lock_left_by_a_dead_run_is_taken_over(city: Path, caplog) -> None:
    (city / "out" / "processed" / dataset("run_lock").file).write_text("999999999")
    with caplog.at_level("WARNING"):
        assert _run(city) == set()
    assert any("引き継ぎました" in r.message for r in caplog.records)


def test_a_run_waits_with_wait(city: Path) -> None:
    """--wait: the second run starts when the first one ends."""
    import threading

    root = city / "out" / "processed"
    released = threading.Event()

    def hold() -> None:
        with run_lock(root / dataset("run_lock").file):
            released.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.2)
    threading.Timer(1.0, released.set).start()
    t0 = time.time()
    assert _run(city, wait=True) == set()
    assert time.time() - t0 >= 0.8
    t.join()


@pytest.mark.parametrize("fault", ["other key", "missing key", "empty key", "short key", "folder"])
def test_a_key_fault_stops_before_any_step(city: Path, tmp_path: Path, monkeypatch, capsys, fault: str) -> None:
    """Another key over outputs made with the session's key, a key path with a typo, an empty, short or folder key:
    one Japanese line, exit 2, no new key over old outputs, nothing re-written."""
    key = tmp_path / "keys" / "city.key"
    key.parent.mkdir()
    if fault == "other key":
        key.write_text(secrets.token_hex(32))
    elif fault == "empty key":
        key.write_text("")
    elif fault == "short key":
        key.write_text("abc123")
    elif fault == "folder":
        key.mkdir()
    monkeypatch.setenv("MIMAMORI_KEY_FILE", str(key))
    scores = city / "out" / "processed" / "fy2025" / "scores.parquet"
    before = scores.read_bytes()
    code = cli.main(_cli(city))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "仮名化キー" in err and str(key) in err
    assert len([line for line in err.splitlines() if "エラー" in line]) == 1
    if fault == "missing key":
        assert not key.exists(), "no new key over old outputs"
    if fault == "other key":
        assert "--force" in err
    assert scores.read_bytes() == before
    assert not (city / "out" / "reports" / "fy2025" / "run_manifest.json").read_text(encoding="utf-8").count('"outcome": "failed"')


def test_a_new_key_with_force_remakes_every_year(city: Path, tmp_path: Path, monkeypatch) -> None:
    """The way out the message names: `mimamori key new`, then every year with --force."""
    key = tmp_path / "new.key"
    assert cli.main(["key", "new", "--key-file", str(key)]) == 0
    monkeypatch.setenv("MIMAMORI_KEY_FILE", str(key))
    f = city / "mine.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\n", encoding="utf-8")
    assert cli.main(["run", "--params", "params/fy2025.yaml", "--raw-dir", str(city / "raw"), "--out-dir",
                     str(city / "out"), "--force"]) == 2, "one year alone cannot move the out dir to a new key"
    base = load_params("params/fy2025.yaml", {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    years = {fy: year_params(base, fy) for fy in (2024, 2025)}
    results = pipeline.run_plan(pipeline.Plan(years, {fy: ["10_ingest"] for fy in years}, force=True))
    assert [s["outcome"] for r in results for s in r.steps] == ["ran", "ran"]
    assert str(key) in (city / "out" / "processed" / dataset("key_record").file).read_text(encoding="utf-8")


def test_a_failed_linkage_leaves_nothing_in_the_temporary_folder(city: Path, tmp_path: Path) -> None:
    """名寄せ fails (DuckDB's memory limit too low): no spill file, kernel file or folder of the run is left in
    $TMPDIR, and no work folder in the out dir."""
    f = city / "low.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\nlinkage:\n  memory_limit: 1MB\n", encoding="utf-8")
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(paths.ROOT)}
    r = subprocess.run([sys.executable, "-m", "mimamori_lib.cli", "run", "--params", str(f), "--raw-dir", str(city / "raw"),
                        "--out-dir", str(city / "out"), "--from", "20_link"], env=env, cwd=paths.ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "20_link" in r.stderr, r.stderr
    assert list(tmp.iterdir()) == []
    assert "Traceback" not in r.stderr.split("途中までの結果")[-1], r.stderr
    assert not list((city / "out").rglob(".work-*")), "the private work folders are removed too"
