"""Fault injection: each broken input a city could hand over gives one clear message, and every valid row of every
other source still loads (hand-made or small inputs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import cli, ingest, meeting, pipeline
from mimamori_lib.catalogue import datasets, notices
from mimamori_lib.catalogue.readback import read_saved
from mimamori_lib.ingest.completeness import RequiredSourceError
from mimamori_lib.params import load_params


def _ingest(raw: Path, out: Path, fy: int = 2025, **over):
    p = load_params(f"params/fy{fy}.yaml", {"raw_dir": str(raw), "out_dir": str(out), **over})
    return p, ingest.run(p)


@pytest.fixture(scope="module")
def small_copy(small_city: Path, tmp_path_factory) -> Path:
    """A writable copy of the small synthetic city's exports (both years)."""
    d = tmp_path_factory.mktemp("faults")
    shutil.copytree(small_city / "raw", d / "raw")
    return d


def _loaded(res) -> dict[str, int]:
    return {sid: r.rows_loaded for sid, r in res.sources.items()}


@pytest.mark.parametrize("content", [b"", "宛名番号,世帯番号,続柄,氏名,氏名カナ,生年月日,性別,住所,住定日,転入回数,国籍区分\n".encode("cp932"),
                                     b"\x82\xa0,\xff\xfe\xfd\x80\x81\n\xfc\xfc\xfc", None])
def test_an_unusable_registry_stops_ingestion_with_one_line(small_copy: Path, tmp_path: Path, content) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(small_copy / "raw" / "fy2025", raw / "fy2025")
    f = raw / "fy2025" / "shimin" / "juki.csv"
    if content is None:
        f.unlink()
    else:
        f.write_bytes(content)
    with pytest.raises(RequiredSourceError) as e:
        _ingest(raw, tmp_path / "out")
    msg = str(e.value)
    assert "住民基本台帳" in msg and str(f) in msg and "もう一度実行" in msg and "\n" not in msg
    assert not (tmp_path / "out" / "processed" / "fy2025" / "identity.parquet").exists()


def test_the_cli_stops_the_year_on_a_header_only_registry(small_copy: Path, tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(small_copy / "raw" / "fy2025", raw / "fy2025")
    (raw / "fy2025" / "shimin" / "juki.csv").write_bytes("宛名番号,世帯番号,続柄,氏名,生年月日,性別\n".encode("cp932"))
    code = cli.main(["run", "--params", "params/fy2025.yaml", "--raw-dir", str(raw), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "住民基本台帳" in err and "Traceback" not in err and "セル" not in err
    assert not (tmp_path / "out" / "reports" / "fy2025" / "20_link.html").exists(), "the run stops at ingestion"


def test_a_truncated_attendance_file_is_flagged(small_copy: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(small_copy / "raw", raw)
    _ingest(raw, tmp_path / "out", fy=2024)
    _, whole = _ingest(raw, tmp_path / "whole")
    f = raw / "fy2025" / "gakko" / "shusseki.csv"
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 5])  # a failed copy: a fifth of the file, cut inside a row
    p, res = _ingest(raw, tmp_path / "out")
    r = res.sources["shusseki"]
    assert r.warning and "前年度" in r.warning and "対象学年" in r.warning, r.warning
    summary = pd.read_csv(p.processed / "ingest_summary.csv", keep_default_na=False).set_index("source")
    assert "行数が大きく減っています" in summary.loc["gakko/shusseki.csv", "warning"]
    assert (summary.drop(index="gakko/shusseki.csv")["warning"] == "").all(), "only the cut file is flagged"
    assert any("shusseki" in n["message"] for n in notices.read(p)), "the end of the run says so on the console"
    other = {k: v for k, v in _loaded(res).items() if k != "shusseki"}
    assert other == {k: v for k, v in _loaded(whole).items() if k != "shusseki"}, "every other source loads in full"
    with pytest.raises(RequiredSourceError, match="fail_on_shrink"):
        _ingest(raw, tmp_path / "strict", ingest={"fail_on_shrink": True})


def test_a_decisions_file_without_a_column_does_not_stop_the_year(smoke_run: Path, tmp_path: Path) -> None:
    """35_meeting reports the file and its fix; 40_survey and 50_evaluation still run."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    shutil.copytree(smoke_run / "raw", raw)
    shutil.copytree(smoke_run / "out", out)
    from openpyxl import load_workbook

    f = raw / "fy2025" / "shien" / "kettei.xlsx"
    wb = load_workbook(f)
    ws = wb.active
    ws.delete_cols([x.value for x in ws[1]].index("判断日") + 1)
    wb.save(f)
    for step in ("40_survey", "50_evaluation"):
        (out / "reports" / "fy2025" / f"{step}.html").unlink()
    r = pipeline.run_year("params/fy2025.yaml", str(raw), str(out), start="35_meeting")
    assert sorted(s["step"] for s in r.steps) == ["35_meeting", "40_survey", "45_cases", "50_evaluation"]
    html = (out / "reports" / "fy2025" / "35_meeting.html").read_text(encoding="utf-8")
    assert "必要な列がありません: 判断日" in html and "保存し直してください" in html
    assert not (out / "processed" / "fy2025" / "decisions.parquet").exists(), "no stale decisions are used"
    assert (out / "reports" / "public" / "成果報告会_2025.html").exists()
    p = load_params("params/fy2025.yaml", {"raw_dir": str(raw), "out_dir": str(out)})
    assert any("判断日" in n["message"] for n in notices.read(p))


@pytest.mark.parametrize("enc", ["cp932", "utf-16"])
def test_decisions_in_another_encoding_or_with_a_bad_row(smoke_run: Path, tmp_path: Path, enc: str) -> None:
    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(smoke_run / "out")})
    t = read_saved(smoke_run / "raw" / "fy2025" / "shien" / "kettei.xlsx", meeting.REQUIRED, "会議の判断", "抽出リスト")
    lst = pd.DataFrame(t.rows, columns=t.header)
    lst.loc[0, "支援要否"] = "たぶん"
    f = datasets.saved_target(p, "decisions")
    f.parent.mkdir(parents=True)
    lst.to_csv(f, index=False, encoding=enc, sep="\t" if enc == "utf-16" else ",")
    year = meeting.read_year(p, meeting.read_scores(p))
    assert year.decisions is not None and len(year.decisions) == len(lst) - 1
    assert list(year.quarantine["row"]) == [2] and "隔離" in year.message, "the row Excel shows (header: row 1)"


def test_an_interrupted_command_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Ctrl-C (staff stopping a long run): one Japanese line and exit status 130, no traceback."""
    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_report", interrupted)
    code = cli.main(["report", "--params", "params/smoke.yaml"])
    err = capsys.readouterr().err
    assert code == 130 and "中断しました" in err and "Traceback" not in err
