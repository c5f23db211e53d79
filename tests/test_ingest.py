"""Ingestion on hand-made broken files, and on the synthetic city against its truth."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import ingest
from mimamori_lib.catalogue.tables import read_identity
from mimamori_lib.params import load_params
from mimamori_lib.privacy.pseudonym import pseudonym
from mimamori_lib.rights.apply import APPLIED

JUKI_HEADER = "宛名番号,世帯番号,続柄,氏名,氏名カナ,生年月日,性別,住所,住定日,転入回数,国籍区分"
JUKI_ROWS = [
    "0001234567,0000100001,世帯主,髙橋　一郎,ﾀｶﾊｼ ｲﾁﾛｳ,S60.4.1,1,別府市野口原3丁目4番5号,H30.4.1,0,1",
    "1234568,0000100001,子,高橋花子,ﾀｶﾊｼﾊﾅｺ,R2.5.10,2,別府市野口原3丁目4番5号,R2.5.10,0,1",
    "0001234569,0000100002,子,佐藤 蓮,ｻﾄｳ ﾚﾝ,R7.13.40,1,別府市北浜1丁目2番3号,R1.5.1,1,1",
    "12A4,0000100003,子,田中　陽翔,ﾀﾅｶ ﾊﾙﾄ,H28.6.1,1,別府市北浜1丁目2番3号,H28.6.1,0,1",
    "0001234571,0000100003,子,田中　凛,ﾀﾅｶ ﾘﾝ,H29.6.1,9,別府市北浜1丁目2番3号,H29.6.1,0,1",
    "1234568,0000100001,子,高橋花子,ﾀｶﾊｼﾊﾅｺ,R2.5.10,2,別府市野口原3丁目4番5号,R2.5.10,0,1",
]


def write(raw: Path, path: str, lines: list[str], enc: str = "cp932", eol: str = "\n") -> Path:
    f = raw / "fy2025" / path
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes((eol.join(lines) + eol).encode(enc))
    return f


@pytest.fixture
def run(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MIMAMORI_KEY_FILE", str(tmp_path / "keys" / "test.key"))
    raw = tmp_path / "raw"
    (raw / "fy2025").mkdir(parents=True)

    def go():
        p = load_params("params/fy2025.yaml", {"raw_dir": str(raw), "out_dir": str(tmp_path / "out")})
        return p, ingest.run(p)
    return raw, go


def _q(res, source: str) -> pd.DataFrame:
    q = res.quarantine()
    return q[q["source"] == source]


def test_planted_defects_quarantined_row_by_row(run) -> None:
    raw, go = run
    write(raw, "shimin/juki.csv", [JUKI_HEADER] + JUKI_ROWS)
    p, res = go()
    r = res.sources["juki"]
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined) == ("loaded", 6, 2, 4)
    q = _q(res, "shimin/juki.csv").set_index("row")
    assert q.loc[3, "column"] == "生年月日" and q.loc[3, "reason"] == "日付として読めません" and q.loc[3, "value"] == "R7.13.40"
    assert q.loc[4, "column"] == "宛名番号" and q.loc[4, "value"] == "**A*", "personal values are masked"
    assert q.loc[5, "column"] == "性別" and "不明なコード" in q.loc[5, "reason"]
    assert q.loc[6, "column"] == "(行全体)" and q.loc[6, "value"] == "3 行目と同一", "the line in the file"
    t = pd.read_parquet(p.processed / "juki.parquet")
    assert list(t["row"]) == [1, 2]
    assert "atena_no" not in t.columns and "name" not in t.columns and "address" not in t.columns
    ident = read_identity(p)
    assert list(ident["atena_no"]) == ["0001234567", "0001234568"], "lost zeros restored"
    assert list(ident["family_name"]) == ["高橋", "高橋"] and list(ident["given_name"]) == ["一郎", "花子"]
    assert list(ident["name_kana"]) == ["タカハシ イチロウ", "タカハシハナコ"]
    assert list(ident["given_kana"]) == ["イチロウ", "ハナコ"]
    assert list(ident["address"]) == ["野口原3-4-5", "野口原3-4-5"]
    summary = pd.read_csv(p.processed / "ingest_summary.csv")
    assert (summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]).all()
    assert set(pd.read_csv(p.processed / "quarantine.csv")["row"]) == {3, 4, 5, 6}


def test_pseudonyms_and_key(run, tmp_path: Path) -> None:
    raw, go = run
    write(raw, "shimin/juki.csv", [JUKI_HEADER] + JUKI_ROWS[:2])
    write(raw, "kosodate/jido_fuyo.csv", ["受給者宛名番号,対象児童宛名番号,支給区分,認定日", "1234567,0001234568,全部支給,R6.4.1"])
    p, res = go()
    key_file = tmp_path / "keys" / "test.key"
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    key = key_file.read_text().strip()
    juki = res.sources["juki"].table
    jf = res.sources["jido_fuyo"].table
    assert jf["person_id"].iloc[0] == juki["person_id"].iloc[1] == pseudonym(key.encode(), "0001234568")
    assert jf["recipient_person_id"].iloc[0] == juki["person_id"].iloc[0], "1234567 and 0001234567 are one person"
    for f in p.processed.rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes()
    assert (p.processed / "restricted").stat().st_mode & 0o077 == 0


def test_file_level_failures_stop_only_that_source(run) -> None:
    raw, go = run
    write(raw, "shimin/juki.csv", [JUKI_HEADER] + JUKI_ROWS[:2], enc="utf-8")                          # wrong encoding
    write(raw, "hitokurashi/konkyu.csv", ["相談者宛名番号,相談日,主訴,備考", "1234567,2025/04/01,仕事,メモ"], enc="utf-8")  # no BOM, extra column
    write(raw, "kosodate/hoiku.csv", ["児童宛名番号,施設名,入所日", "0001234568,野口保育園,2024/04/01"])  # missing required column
    (raw / "fy2025" / "hitokurashi" / "seiho.csv").write_bytes(b"")                                     # empty file
    write(raw, "kodomokatei/soudan.csv", ["児童宛名番号,相談日,相談種別"], enc="utf-8-sig", eol="\r\n")  # header only
    (raw / "fy2025" / "kenko").mkdir(parents=True)
    (raw / "fy2025" / "kenko" / "kenshin.csv").write_bytes(b"\x82\xa0,\xff\xfe\xfd\x80\x81\n\xfc\xfc\xfc")  # undecodable
    write(raw, "kodomokatei/yotaikyo.csv", ["児童宛名番号,登録区分,主たる種別,登録日,終結日",
                                            "1234568,要支援児童,ネグレクト,2024/04/01,"], enc="utf-8-sig", eol="\r\n")
    write(raw, "shogai/techo.csv", ["宛名番号,手帳種別,等級", "1234568,療育,A1,extra"])                 # ragged row
    p, res = go()
    s = {k: v for k, v in res.sources.items()}
    assert s["juki"].status == "loaded" and s["juki"].rows_loaded == 2 and "UTF-8 で読みました" in s["juki"].message
    assert s["konkyu"].status == "loaded" and s["konkyu"].columns_refused == ["備考(登録簿にない列)"]
    assert "備考" not in s["konkyu"].table.columns and "note" not in s["konkyu"].table.columns
    assert s["hoiku"].status == "error" and "保育料滞納月数" in s["hoiku"].message
    assert s["seiho"].status == "error" and "空のファイル" in s["seiho"].message
    assert s["soudan"].status == "loaded" and s["soudan"].rows_read == 0 and "ヘッダーのみ" in s["soudan"].message
    assert s["kenshin"].status == "error" and "文字コード" in s["kenshin"].message
    assert s["yotaikyo"].columns_refused == ["主たる種別(利用目的外)"] and "abuse_type" not in s["yotaikyo"].table.columns
    assert s["yotaikyo"].table["closed_on"].isna().all()
    assert s["techo"].rows_quarantined == 1 and "列数" in _q(res, "shogai/techo.csv")["reason"].iloc[0]
    assert s["jidoshien"].status == "missing" and s["seikatsu"].status == "absent"
    summary = pd.read_csv(p.processed / "ingest_summary.csv", keep_default_na=False)
    assert (summary["rows_read"] == summary["rows_loaded"] + summary["rows_quarantined"]).all()
    assert set(summary.loc[summary["status"].isin(["error", "missing"]), "source"]) >= {
        "kosodate/hoiku.csv", "hitokurashi/seiho.csv", "kenko/kenshin.csv", "shogai/jidoshien.csv"}


def test_bom_crlf_and_utf16_variants_agree(run) -> None:
    raw, go = run
    write(raw, "shimin/juki.csv", [JUKI_HEADER] + JUKI_ROWS[:2])
    lines = ["相談者宛名番号,相談日,主訴", "1234567,2025/04/01,仕事", "0001234567,20250402,債務"]
    write(raw, "hitokurashi/konkyu.csv", lines, enc="utf-8-sig", eol="\r\n")
    _, a = go()
    write(raw, "hitokurashi/konkyu.csv", lines, enc="utf-8", eol="\n")
    _, b = go()
    write(raw, "hitokurashi/konkyu.csv", lines, enc="cp932", eol="\r\n")
    _, c = go()
    (raw / "fy2025" / "hitokurashi" / "konkyu.csv").write_bytes("\r\n".join(x.replace(",", "\t") for x in lines).encode("utf-16"))
    _, d = go()
    assert "UTF-16" in d.sources["konkyu"].message and "タブ区切り" in d.sources["konkyu"].message
    ta, tb, tc, td = (x.sources["konkyu"].table for x in (a, b, c, d))
    assert ta.equals(tb) and ta.equals(tc) and ta.equals(td) and len(ta) == 2, "Excel's Unicode text reads the same"
    assert ta["person_id"].nunique() == 1


def test_synthetic_city_quarantine_matches_truth(beppu: Path, beppu_processed) -> None:
    p, res, _ = beppu_processed
    assert all(r.status == "loaded" for r in res.sources.values())
    truth = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "rows.csv", dtype=str, keep_default_na=False)
    broken = truth[truth["defect"] != ""]
    q = res.quarantine()
    got = set(zip(q["source"], q["row"].astype(int), strict=True))
    want = set(zip(broken["source"], broken["row"].astype(int), strict=True))
    assert got == want, "exactly the planted defects are quarantined, with their row numbers"
    for r in res.sources.values():
        assert r.rows_read == r.rows_loaded + r.rows_quarantined
    assert os.path.exists(p.processed / "restricted" / "identity.parquet")


def test_identical_anonymous_answers_are_not_duplicates(run) -> None:
    raw, go = run
    write(raw, "shimin/juki.csv", [JUKI_HEADER] + JUKI_ROWS[:2])
    rows = ["所属区分,Q1_対象者認識の一致,Q2_こども理解の深まり,Q3_データの有用性,Q4_業務負担,自由記述",
            "市職員,4,4,3,3,連携が進んだ", "市職員,4,4,3,3,連携が進んだ", "教職員,6,x,3,3,"]
    write(raw, "hearing/staff.csv", rows, enc="utf-8-sig", eol="\r\n")
    _, res = go()
    r = res.sources["hearing"]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 3, 0)
    assert r.table["q1_shared_view"].isna().sum() == 1 and r.missing["Q2_こども理解の深まり"] == 1, "out of range → missing"


def _ingest_in_a_process(raw: Path, out: Path, parallel_mb: int | None) -> str:
    """FY2025 of ``raw`` ingested by a fresh Python (``-c``: no main script a second process would run again); its
    log."""
    import subprocess
    import sys

    from mimamori_lib import paths

    code = ("import logging; logging.basicConfig(level=logging.INFO, format='%(message)s')\n"
            "from mimamori_lib import ingest\nfrom mimamori_lib.params import load_params\n"
            f"ingest.run(load_params('params/smoke.yaml', {{'raw_dir': {str(raw)!r}, 'out_dir': {str(out)!r}, "
            f"'fiscal_year': 2025, 'run': {{'ingest_parallel_mb': {parallel_mb!r}}}}}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=paths.ROOT, capture_output=True, text=True, check=True)
    return done.stderr


def test_sources_read_beside_the_registry_give_the_same_outputs(small_city: Path, tmp_path: Path) -> None:
    """A big city's other sources are read in a second process while the registry is read (run.ingest_parallel_mb): the
    same tables, identities, quarantine and applied requests as reading them one after another — a correction of a
    source read there, and a stop of a child whose school rows are known only by the reading and birth date the
    registry gives (learnt there from the registry's cells)."""
    import shutil

    from mimamori_lib.text.reading import decode, entries

    raw = tmp_path / "raw"
    shutil.copytree(small_city / "raw", raw)
    _ingest_in_a_process(raw, tmp_path / "first", None)
    ident = pd.read_parquet(tmp_path / "first" / "processed" / "fy2025" / "restricted" / "identity.parquet")
    reg = ident[ident["source"] == "shimin/juki.csv"]
    school = ident[ident["source"] == "gakko/shusseki.csv"]
    both = reg.merge(school, on=["name_kana", "birth_date"], suffixes=("", "_school"))
    stop = both.sort_values("atena_no")["atena_no"].iloc[0]
    text, _, _ = decode((raw / "fy2025" / "kenko" / "kenshin.csv").read_bytes(), "cp932")
    e = entries(text)
    i = next(k for k, r in enumerate(e.rows) if r[0] in set(reg["atena_no"]) and r[0] != stop and r[2] == "受診")
    (raw / "teisei.csv").write_text(
        "受付番号,宛名番号,年度,資料,行,項目,訂正前,訂正後,理由,決定日\n"
        f"R7-001,{e.rows[i][0]},2025,kenko/kenshin.csv,{e.lines[i]},受診状況,受診,未受診,記録の誤り,2025-11-01\n",
        encoding="utf-8-sig")
    (raw / "teishi.csv").write_text(f"受付番号,宛名番号,範囲,理由,決定日,解除日\nR7-S01,{stop},全部,第98条第1項,2025-11-05,\n",
                                    encoding="utf-8-sig")
    one_by_one = _ingest_in_a_process(raw, tmp_path / "one", None)
    beside = _ingest_in_a_process(raw, tmp_path / "two", 0)
    assert "別のプロセスで読み込みます" in beside and "別のプロセス" not in one_by_one
    a, b = tmp_path / "one" / "processed" / "fy2025", tmp_path / "two" / "processed" / "fy2025"
    files = sorted(f.relative_to(a) for f in a.rglob("*") if f.is_file())
    assert files == sorted(f.relative_to(b) for f in b.rglob("*") if f.is_file())
    for f in files:
        if f.suffix == ".parquet":  # (a correction applied keeps the time it was first applied: each run's own)
            pd.testing.assert_frame_equal(pd.read_parquet(a / f).drop(columns="applied_at", errors="ignore"),
                                          pd.read_parquet(b / f).drop(columns="applied_at", errors="ignore"))
        else:
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    corrections = pd.read_parquet(b / "restricted" / "teisei.parquet")
    assert list(corrections["status"]) == [APPLIED], "the correction of a source read in the second process applied"
    summary = pd.read_csv(b / "ingest_summary.csv").set_index("source")
    first = pd.read_csv(tmp_path / "first" / "processed" / "fy2025" / "ingest_summary.csv").set_index("source")
    assert summary.loc["gakko/shusseki.csv", "rows_read"] < first.loc["gakko/shusseki.csv", "rows_read"], \
        "the stopped child's school rows were left out in the second process"
