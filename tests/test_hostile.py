"""Broken and hostile exports (issue 24): no row lost to a stray quote, no formula in a spreadsheet, impossible values
caught, decisions read from the workbook staff saved, private folders whatever the umask.

One small city's own exports (unmarked: no made-up meeting), with every fault injected into FY2025, is run end to
end; the assertions are on what the run wrote."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import cli
from mimamori_lib.catalogue.readback import read_saved
from mimamori_lib.output.spreadsheet import append_row, read_csv, write_csv
from mimamori_lib.params import load_params
from mimamori_lib.text.cells import cell_table
from mimamori_lib.text.reading import entries, read_rows

FORMULAS = ("=HYPERLINK(\"http://x.example/\")", "+1+1", "-2+3", "@SUM(1)", "=1+1")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$", re.I)


def _set_cell(f: Path, encoding: str, line: int, column: int, value) -> None:
    """Rewrite one cell of an export in place (``line`` 1-based as the file numbers it; ``value``: text or a function
    of the old text)."""
    lines = f.read_text(encoding=encoding).splitlines(keepends=True)
    body, end = lines[line - 1].rstrip("\r\n"), lines[line - 1][len(lines[line - 1].rstrip("\r\n")):]
    cells = body.split(",")
    cells[column] = value(cells[column]) if callable(value) else value
    lines[line - 1] = ",".join(cells) + end
    f.write_text("".join(lines), encoding=encoding)


def inject(raw: Path) -> dict[str, list[int]]:
    """The faults, in FY2025's exports; returns the lines (as the file numbers them) that must be quarantined."""
    fy = raw / "fy2025"
    f = fy / "kodomokatei" / "yotaikyo.csv"
    n = len(f.read_text(encoding="utf-8-sig").splitlines())
    stray = [2, (n + 1) // 2, n]   # the first data row, the middle and the last
    for line in stray:
        _set_cell(f, "utf-8-sig", line, 1, lambda v: '"' + v)
    _set_cell(fy / "kodomokatei" / "soudan.csv", "utf-8-sig", 5, 2, "あ" * 1_000_000)
    juki = fy / "shimin" / "juki.csv"
    _set_cell(juki, "cp932", 7, 5, "R81.1.1")
    for line in range(2, len(juki.read_text(encoding="cp932").splitlines()) + 1, 3):  # names Excel would run
        _set_cell(juki, "cp932", line, 3, lambda v, line=line: FORMULAS[line % len(FORMULAS)] + v)
    _set_cell(fy / "gakko" / "shusseki.csv", "utf-8-sig", 4, 9, "-5")
    return {"kodomokatei/yotaikyo.csv": stray, "kodomokatei/soudan.csv": [5], "shimin/juki.csv": [7],
            "gakko/shusseki.csv": [4]}


@pytest.fixture(scope="module")
def hostile(city_run, tmp_path_factory):
    """The city's run with the faults (conftest: ``city_run``, under umask 022), copied; then FY2025's meeting:
    the extraction list filled in and saved as kettei.xlsx (with a blank last row), and the run again."""
    city, code, _, expected = city_run
    assert code == 0
    root = tmp_path_factory.mktemp("hostile")
    for d in ("raw", "out"):
        shutil.copytree(city / d, root / d)
    args = ["report", "--params", "params/fy2025.yaml", "--raw-dir", str(root / "raw"), "--out-dir", str(root / "out")]
    p = load_params("params/fy2025.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out")})
    from openpyxl import load_workbook

    from mimamori_lib.synth.meeting import fill_decisions

    f = fill_decisions(p, city / "synthetic_truth")
    wb = load_workbook(f)
    wb.active.append([" ", "", None])      # what a stray click leaves: a row with nothing in it
    wb.save(f)
    old = os.umask(0o022)
    try:
        assert cli.main(args) == 0
    finally:
        os.umask(old)
    return root, expected, p


def test_only_the_broken_rows_are_quarantined(hostile, smoke_run: Path) -> None:
    root, expected, _ = hostile
    q = pd.read_csv(root / "out" / "processed" / "fy2025" / "quarantine.csv", encoding="utf-8-sig", keep_default_na=False)
    clean = pd.read_csv(smoke_run / "out" / "processed" / "fy2025" / "quarantine.csv", encoding="utf-8-sig",
                        keep_default_na=False)
    new = q.merge(clean[["source", "row"]], on=["source", "row"], how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    assert {s: sorted(g["line"].astype(int)) for s, g in new.groupby("source")} == expected
    reasons = dict(zip(new["source"], new["reason"], strict=False))
    assert "引用符" in reasons["kodomokatei/yotaikyo.csv"]
    assert "長すぎます" in reasons["kodomokatei/soudan.csv"] and len(q.to_csv()) < 100_000, "the long value is not copied"
    assert "範囲外" in reasons["shimin/juki.csv"] and "範囲外" in reasons["gakko/shusseki.csv"]
    s = pd.read_csv(root / "out" / "processed" / "fy2025" / "ingest_summary.csv", encoding="utf-8-sig").set_index("source")
    c = pd.read_csv(smoke_run / "out" / "processed" / "fy2025" / "ingest_summary.csv", encoding="utf-8-sig").set_index("source")
    for src, lines in expected.items():
        assert s.at[src, "rows_loaded"] == c.at[src, "rows_loaded"] - len(lines), src
        assert s.at[src, "rows_read"] == s.at[src, "rows_loaded"] + s.at[src, "rows_quarantined"]


def test_no_spreadsheet_cell_is_a_formula(hostile) -> None:
    from openpyxl import load_workbook

    root, _, _ = hostile
    books = list((root / "out").rglob("*.xlsx"))
    assert any(b.name == "extraction.xlsx" for b in books)
    names = 0
    for b in books:
        wb = load_workbook(b)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", f"{b.name} {ws.title}!{c.coordinate}: {c.value}"
                    names += isinstance(c.value, str) and c.value.startswith(FORMULAS)
    assert names, "the hostile names reached the workbooks, as text"
    for f in (root / "out").rglob("*.csv"):
        for row in csv.reader(io.StringIO(f.read_text(encoding="utf-8-sig"), newline="")):
            for v in row:
                assert not v.startswith(("=", "+", "-", "@", "\t", "\r")) or NUMBER.match(v), f"{f.name}: {v!r}"


def test_every_decision_in_the_saved_workbook_is_read(hostile) -> None:
    root, _, p = hostile
    listed = pd.read_csv(root / "out" / "reports" / "internal" / "fy2025" / "extraction.csv", encoding="utf-8-sig")
    dec = pd.read_parquet(root / "out" / "processed" / "fy2025" / "decisions.parquet")
    q = pd.read_csv(root / "out" / "processed" / "fy2025" / "decisions_quarantine.csv", encoding="utf-8-sig")
    assert len(dec) == len(listed) and q.empty
    assert dec["row"].min() == 2, "rows as Excel numbers them (the header is row 1)"


def test_processed_and_internal_folders_are_private(hostile) -> None:
    root, _, _ = hostile
    for d in ("processed", "reports/internal"):
        r = subprocess.run(["find", str(root / "out" / d), "-perm", "/077"], capture_output=True, text=True, check=True)
        assert r.stdout == "", r.stdout


def test_a_duplicate_of_a_broken_row_does_not_stop_ingestion(tmp_path: Path) -> None:
    """The first of two identical rows is broken by a stray quote: both are accounted for, nothing fails."""
    from mimamori_lib.catalogue.registry import load_registry
    from mimamori_lib.ingest.source import ingest_source

    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path)})
    spec = load_registry(p)["yotaikyo"]
    f = tmp_path / spec["path"]
    f.parent.mkdir(parents=True)
    row = "0000000123,要支援児童,ネグレクト,2025-04-01,"
    f.write_text("児童宛名番号,登録区分,主たる種別,登録日,終結日\n" + row.replace("要支援", '"要支援') + "\n" + row + "\n" + row + "\n",
                 encoding="utf-8-sig")
    r = ingest_source(spec, tmp_path, b"k" * 32, {}, p.city, p.reference_date)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 1, 2)
    assert list(r.quarantine["line"]) == [2, 4]


def test_a_multi_line_value_is_read_where_the_registry_allows_it() -> None:
    t = read_rows('a,b\n1,"two\nlines"\n2,x\n', row_lines=3)
    assert t.rows == [["1", "two\nlines"], ["2", "x"]] and t.numbers == [2, 3] and not t.broken
    t = read_rows('a,b\n1,"two\nlines"\n2,x\n', row_lines=1)
    assert t.broken[0][0] == 2 and ["2", "x"] in t.rows


def test_a_quote_left_open_at_the_end_breaks_only_its_own_row() -> None:
    # the rows after a quote that never closed are read again from the next line, each on its own
    t = read_rows('a,b\n1,"x\n2,y\n', row_lines=3)
    assert [line for line, _ in t.broken] == [2] and t.rows == [["2", "y"]] and t.numbers == [3]


def test_the_columns_hold_the_rows_as_entries_number_them() -> None:
    text = ('a,b,c\n1,x,p\n,,\n2,"y\nz",q\n3,w\n4,"v,t\n5,u,r\n5,u,r\n' + "".join(f"{i},s{i},o\n" for i in range(9, 40)))
    for row_lines in (1, 2):
        e = entries(text, row_lines)
        t = cell_table(text, row_lines, chunk_rows=4)
        assert t.header == e.header and list(t.lines) == e.lines
        assert {int(t.lines[i]): why for i, why in t.broken.items()} == e.broken
        assert [t.row(i) for i in range(len(t))] == e.rows
        assert set(t.odd) == {i for i, r in enumerate(e.rows) if r is not None and len(r) != 3}
        assert [t.index_of_line(x) for x in e.lines] == list(range(len(e.lines))) and t.index_of_line(3) is None
        t.set_cell(0, 1, "changed")
        assert t.row(0) == ["1", "changed", "p"] and t.row(1) == e.rows[1]


def test_csv_and_workbook_writers_keep_text_as_text(tmp_path: Path) -> None:
    from openpyxl import Workbook, load_workbook

    df = pd.DataFrame({"name": ["=1+1", "+A", "-B", "@C", "\tD", "'E", "F"], "n": [-1, 2, 3, 4, 5, 6, 7]})
    write_csv(df, tmp_path / "a.csv")
    text = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in text and "\n-1" not in text and ",-1" in text
    pd.testing.assert_frame_equal(read_csv(tmp_path / "a.csv"), df)
    wb = Workbook()
    append_row(wb.active, ["=1+1", "@x", 5])
    wb.save(tmp_path / "a.xlsx")
    cells = list(load_workbook(tmp_path / "a.xlsx").active.iter_rows())[0]
    assert [c.data_type for c in cells] == ["s", "s", "n"] and cells[0].value == "=1+1"


def test_a_review_queue_address_is_text(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from mimamori_lib.linkage.review import write_review_queue

    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out")})
    reg = "shimin/juki.csv"
    ident = pd.DataFrame({"source": [reg, "gakko/shusseki.csv"], "row": [1, 1], "person_id": ["p1", None],
                          "name": ["=HYPERLINK(\"x\")", "別府 太郎"], "name_kana": ["ベップ タロウ"] * 2,
                          "birth_date": pd.to_datetime(["2015-04-01"] * 2), "sex": ["1", "1"],
                          "address": ["=1+1", "@SUM(1)"], "school": [None, "-1+2"],
                          "resident_since": pd.to_datetime(["2015-04-01", None])})
    review = pd.DataFrame({"source": ["gakko/shusseki.csv"], "row": [1], "unique_id_l": ["p1"], "match_probability": [0.7]})
    links = pd.DataFrame({"source": ["gakko/shusseki.csv"], "row": [1], "reason": ["=cmd"]})
    f = write_review_queue(p, review, links, ident, pd.Series({"p1": "0000000001"}))
    for row in load_workbook(f).active.iter_rows():
        assert all(c.data_type != "f" for c in row)


def test_saved_csv_rows_carry_the_row_excel_shows(tmp_path: Path) -> None:
    """Blank and comma-only rows are skipped silently; a row's number is the one Excel shows."""
    f = tmp_path / "kettei.csv"
    f.write_text("抽出ID,支援要否\n25-AAAAAA,要\n,\n\n25-BBBBBB,否\n,,\n", encoding="utf-8-sig")
    t = read_saved(f, ["抽出ID", "支援要否"], "会議の判断", "抽出リスト")
    assert t.numbers == [2, 5] and [r[0] for r in t.rows] == ["25-AAAAAA", "25-BBBBBB"]
