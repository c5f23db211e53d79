"""The annual run on a city's own exports: `mimamori report` runs every year straight through, reads what staff
saved, says where a meeting has not happened yet, and never writes into the raw folder."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from mimamori_lib import cli

from .conftest import checksums as _checksums


def test_runs_both_years_and_exits_0(city_run) -> None:
    root, code, _, _ = city_run
    assert code == 0
    for fy in ("2024", "2025"):
        assert (root / "out" / "reports" / "public" / f"成果報告会_{fy}.html").exists()
        assert (root / "out" / "reports" / f"fy{fy}" / "50_evaluation.html").exists()


def test_the_raw_folder_is_left_byte_identical(city_run) -> None:
    root, _, before, _ = city_run
    assert _checksums(root / "raw") == before, "nothing is written into a city's raw folder"


def test_staff_decisions_are_read_and_a_missing_meeting_is_said(city_run) -> None:
    root, _, _, _ = city_run
    dec = pd.read_parquet(root / "out" / "processed" / "fy2024" / "decisions.parquet")
    assert len(dec) > 0, "FY2024's kettei.xlsx, saved by staff, is read"
    assert not (root / "out" / "processed" / "fy2025" / "decisions.parquet").exists()
    html = (root / "out" / "reports" / "fy2025" / "35_meeting.html").read_text(encoding="utf-8")
    assert "会議の判断はまだありません" in html
    public = (root / "out" / "reports" / "public" / "成果報告会_2025.html").read_text(encoding="utf-8")
    shown = re.sub(r"data:[^\"'\s)]+", "", public)  # the figures' base64 may spell "nan" by chance
    assert "会議の判断はまだありません" in public and "nan" not in shown


def test_no_made_up_answers_on_a_city_folder(city_run, capsys) -> None:
    root, _, before, _ = city_run
    for what in ("meeting", "review"):
        assert cli.main(["synth", what, "--fy", "2025", "--raw-dir", str(root / "raw"), "--out-dir", str(root / "out")]) == 2
        assert "合成データ (デモ) の入力フォルダではありません" in capsys.readouterr().err
    assert _checksums(root / "raw") == before


def test_an_empty_city_folder_is_not_filled_with_a_demo(tmp_path: Path, capsys) -> None:
    (tmp_path / "exports").mkdir()
    assert cli.main(["report", "--raw-dir", str(tmp_path / "exports"), "--out-dir", str(tmp_path / "out")]) == 2
    assert "エクスポートがありません" in capsys.readouterr().err
    assert list((tmp_path / "exports").iterdir()) == []
