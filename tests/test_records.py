"""The records a city keeps (issue 32): every paper that names children in the 提供記録, the 個人情報ファイル簿 from the
registry, retention and purge that stays purged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import cli, pipeline
from mimamori_lib.catalogue.registry import columns_read, load_registry
from mimamori_lib.params import load_params
from mimamori_lib.records import file_register, ledger, retention

PARAMS = "params/smoke.yaml"


def _p(root: Path, extra: dict | None = None):
    return load_params(PARAMS, {"raw_dir": str(root / "raw"), "out_dir": str(root / "out"), **(extra or {})})


def _rows(f: Path) -> int:
    """Children on a paper: data rows of its first sheet (CSV rows), or sheets in a folder."""
    if f.is_dir():
        return len(list(f.glob("*.html")))
    if f.suffix == ".csv":
        return len(pd.read_csv(f, dtype=str))
    return len(pd.read_excel(f, sheet_name=1 if f.suffix == ".xlsx" else 0, dtype=str))  # after the explanation sheet


def test_every_paper_of_the_run_is_recorded_with_its_recipient_and_children(smoke_run: Path) -> None:
    p = _p(smoke_run)
    t = ledger.read(p)
    last = t.drop_duplicates("file", keep="last").set_index("file")
    out = smoke_run / "out"
    for fy in (2024, 2025):
        internal = out / "reports" / "internal" / f"fy{fy}"
        papers = [internal / "extraction.xlsx", internal / "extraction.csv", internal / "assessment",
                  *sorted((internal / "kikitori").glob("*.xlsx")), *sorted((internal / "teikyo").glob("*.xlsx")),
                  internal / "jirei_template.xlsx"]
        assert len(papers) > 8
        for f in papers:
            key = str(f.relative_to(out))
            assert key in last.index, f"{key} is not in the 提供記録"
            r = last.loc[key]
            assert r["children"] == _rows(f) == len(r["person_ids"]), key
            assert r["basis"] and r["author"] and r["fy"] == fy
            if f.parent.name in ("kikitori", "teikyo") and f.stem != "こども家庭センター":
                assert r["recipient"] == f"{f.stem} (学校)" and "shusseki" in r["sources"] and "seiho" not in r["sources"]
            if f.name.startswith("extraction"):
                assert r["recipient"] == p.records.meeting
    view = pd.read_excel(out / "reports" / "internal" / "teikyo_kiroku.xlsx", sheet_name="提供記録", dtype=str)
    assert list(view.columns) == ["作成日時", "年度", "書類", "ファイル", "提供先", "人数", "記載項目", "根拠", "作成者"]
    assert len(view) == len(t), "the workbook staff read has a row per paper (and no pseudonym)"
    assert not view.astype(str).apply(lambda c: c.str.fullmatch(r"[0-9a-f]{20}")).any().any()
    assert ((out / "processed" / "restricted" / "teikyo_kiroku.parquet").stat().st_mode & 0o077) == 0


def test_a_paper_written_again_with_the_same_content_is_not_a_second_provision(tmp_path: Path) -> None:
    p = load_params(PARAMS, {"out_dir": str(tmp_path / "out")})
    table = pd.DataFrame({"抽出ID": ["25-AAAAAA", "25-BBBBBB"], "氏名": ["山田 花子", "佐藤 一郎"]})
    paper = ledger.Paper("聞き取り票", tmp_path / "out" / "reports" / "internal" / "fy2025" / "kikitori" / "A小学校.xlsx",
                         "A小学校 (学校)", "個人情報保護法第69条第2項第3号", ["a" * 20, "b" * 20], list(table.columns),
                         ["shusseki"], table)
    assert ledger.record(p, [paper]) == 1
    assert ledger.record(p, [paper]) == 0, "the same content written again: not a second provision"
    changed = ledger.Paper(**{**paper.__dict__, "content": table.assign(氏名=["山田 花子", "佐藤 一朗"])})
    assert ledger.record(p, [changed]) == 1, "its content changed: a new provision"
    t = ledger.read(p)
    assert list(t["children"]) == [2, 2] and t["file"].iloc[0] == "reports/internal/fy2025/kikitori/A小学校.xlsx"
    assert (tmp_path / "out" / "reports" / "internal" / "teikyo_kiroku.xlsx").exists()


def test_a_run_that_writes_the_same_papers_again_records_no_provision(city: Path) -> None:
    """End to end: the list's steps run again on the same inputs write the same papers, and the ledger keeps its
    rows (the unit test above shows a changed paper is recorded)."""
    p = _p(city)
    before = ledger.read(p)
    pipeline.run_year("params/fy2025.yaml", str(city / "raw"), str(city / "out"), from_step="30_extract")
    after = ledger.read(p)
    assert len(after) == len(before) and len(before) > 0


def test_the_file_register_lists_every_column_read_and_none_refused(city: Path) -> None:
    """個人情報ファイル簿: the 記録項目 equal the columns the ingestion reads; a column the run refuses is not listed;
    nothing personal (it may be published); written again only when it would say something else."""
    p = _p(city, {"ingest": {"refuse": {"juki": ["国籍区分"]}}})
    f = file_register.write(p)
    items = pd.read_excel(f, sheet_name="記録項目", dtype=str)
    listed = set(zip(items["ファイル"], items["記録項目"], strict=True))
    reg = load_registry(p)
    assert listed == {(s["path"], h) for s in reg.values() for h in columns_read(s)}
    assert ("shimin/juki.csv", "国籍区分") not in listed and ("shimin/juki.csv", "氏名") in listed
    head = pd.read_excel(f, sheet_name="個人情報ファイル簿", dtype=str).set_index("項目")["内容"]
    assert head["個人情報ファイルの名称"] == p.records.file_name and p.records.contact in head["開示請求等を受理する組織の名称及び所在地"]
    assert "生活保護" in head["要配慮個人情報が含まれるときは、その旨"] and "学校" in head["記録情報の経常的提供先"]
    assert f"{p.retention.years} 年" in head["保存期間"]
    before = f.read_bytes()
    assert file_register.write(p).read_bytes() == before, "the same registry and params: the same file"
    file_register.write(_p(city))
    assert f.read_bytes() != before, "a column no longer refused: the register changes"
    assert cli.main(["fairu-bo", "--params", PARAMS, "--out-dir", str(city / "out")]) == 0


def test_purge_removes_exactly_what_expired_and_it_stays_purged(city: Path) -> None:
    """retention.years 1 on 2026-12-06: FY2024's screening data has expired (kept until 2026-03-31), FY2025's has not;
    decisions and case records stay (25 years). Logged with counts; the next run does not bring FY2024 back."""
    params = city / "short.yaml"
    params.write_text(f"extends: {Path(PARAMS).resolve()}\nretention: {{years: 1}}\n", encoding="utf-8")
    p = load_params(params, {"raw_dir": str(city / "raw"), "out_dir": str(city / "out")})
    found = retention.expired(p, dt.date(2026, 12, 6))
    assert {(e.fy, e.kind) for e in found} == {(2024, retention.SCREENING)}
    assert retention.expired(p, dt.date(2026, 3, 31)) == [], "kept through the last day"
    ident = pd.read_parquet(city / "out" / "processed" / "fy2024" / "restricted" / "identity.parquet")
    names = set(ident["name"].dropna().head(50)) | set(ident["atena_no"].dropna().head(50))
    args = ["purge", "--params", str(params), "--out-dir", str(city / "out"), "--today", "2026-12-06"]
    assert cli.main(args) == 0 and (city / "out" / "processed" / "fy2024" / "juki.parquet").exists(), "without --yes"
    assert cli.main([*args, "--yes"]) == 0
    left = [f for d in ("processed/fy2024", "reports/internal/fy2024", "reports/fy2024") for f in (city / "out" / d).rglob("*")
            if f.is_file()]
    assert sorted(f.name for f in left) == ["decisions.parquet", "jirei.parquet"]
    assert (city / "out" / "processed" / "fy2025" / "juki.parquet").exists()
    assert (city / "out" / "reports" / "public" / "成果報告会_2024.html").exists(), "public reports are kept"
    kept = {f.name: pd.read_parquet(f) for f in left}
    # a case record is the city's own text, kept 25 years: it may name its own child (the demo writes one such
    # record, for a child drawn with the session's key); no other name or 宛名番号 of FY2024 is left anywhere
    recorded = set(ident.loc[ident["person_id"].isin(kept["jirei.parquet"]["person_id"]), "name"].dropna())
    text = " ".join(t.astype(str).to_csv() for t in kept.values())
    assert not any(n in text for n in names - recorded), "no name or 宛名番号 of FY2024 is left"
    assert not any(n in kept["decisions.parquet"].astype(str).to_csv() for n in names), "decisions name no one"
    log = pd.read_csv(city / "out" / "reports" / "purge_log.csv", dtype=str)
    assert list(log["年度"]) == ["2024"] and int(log["削除したファイル数"].iloc[0]) > 50 and log["実行者"].iloc[0]
    assert cli.main(["report", "--params", str(params), "--raw-dir", str(city / "raw"), "--out-dir", str(city / "out")]) == 0
    assert not (city / "out" / "processed" / "fy2024" / "juki.parquet").exists(), "a later run does not rebuild it"
    assert not (city / "out" / "reports" / "internal" / "fy2024").exists()
    with pytest.raises(Exception, match="削除済み"):
        pipeline.run_year("params/fy2024.yaml", str(city / "raw"), str(city / "out"))
