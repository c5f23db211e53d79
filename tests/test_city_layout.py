"""A city's own exports by configuration alone (issue 26): a registry export with other headers, codes and date forms,
UTF-8 instead of Shift_JIS, 外字 and variation sequences in names, read through a city registry of a few lines that
extends the default and a 外字 table, gives the same list, fairness table and quarantine as the default layout; every
registry mistake stops the run with one line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import cli, pipeline
from mimamori_lib.catalogue.registry import RegistryError, code_for, code_labels, load_registry
from mimamori_lib.params import load_params, year_params
from mimamori_lib.text.gaiji import PRIVATE_USE
from mimamori_lib.text.normalize import EXCEL_EPOCH, parse_date

HEADERS = {"宛名番号": "個人宛名コード", "氏名カナ": "カナ氏名", "生年月日": "生年月日(西暦)", "性別": "性別区分",
           "国籍区分": "国籍", "住定日": "住定日(シリアル)"}
CITY_REGISTRY = """extends: {base}
sources:
  juki:
    encoding: utf-8-sig
    columns:
      個人宛名コード: {{name: atena_no}}
      カナ氏名: {{name: name_kana}}
      生年月日(西暦): {{name: birth_date, type: date}}
      性別区分: {{name: sex, values: {{男: "1", 女: "2"}}}}
      国籍: {{name: nationality, values: {{日本: "1", 外国: "2"}}}}
      住定日(シリアル): {{name: resident_since, type: date, serial: true}}
"""
STEPS = ["10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting"]


def _to_city_layout(f: Path, gaiji: dict[str, str]) -> None:
    """The registry export as another vendor's system writes it (in place)."""
    rows = list(csv.reader(io.StringIO(f.read_text(encoding="cp932"), newline="")))
    header = rows[0]
    col = {h: header.index(h) for h in header}
    for i, r in enumerate(rows[1:], 1):
        if len(r) != len(header):
            continue
        b = parse_date(r[col["生年月日"]])
        if b is not None:
            r[col["生年月日"]] = f"{b.year}/{b.month}/{b.day}"
        s = parse_date(r[col["住定日"]])
        if s is not None:
            r[col["住定日"]] = str((s - EXCEL_EPOCH).days)
        r[col["性別"]] = {"1": "男", "2": "女"}.get(r[col["性別"]], r[col["性別"]])
        r[col["国籍区分"]] = {"1": "日本", "2": "外国"}.get(r[col["国籍区分"]], r[col["国籍区分"]])
        name = r[col["氏名"]]
        if name and i % 7 == 0:   # an older system's 外字: the first character from the city's private-use table
            pua = next((k for k, v in gaiji.items() if v == name[0]), None) or chr(0xE000 + len(gaiji))
            gaiji[pua] = name[0]
            r[col["氏名"]] = pua + name[1:]
        elif name and i % 7 == 3:  # a standardised system's variation sequence (葛 + U+E0100)
            r[col["氏名"]] = name[0] + "\U000e0100" + name[1:]
    rows[0] = [HEADERS.get(h, h) for h in header]
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    f.write_text(out.getvalue(), encoding="utf-8-sig")


@pytest.fixture(scope="module")
def layout(smoke_run: Path, tmp_path_factory):
    """The small city in its own layout, run (ingestion to the meeting's read-back) with the city's registry."""
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(smoke_run / "raw", root / "raw")
    gaiji: dict[str, str] = {}
    for fy in (2024, 2025):
        _to_city_layout(root / "raw" / f"fy{fy}" / "shimin" / "juki.csv", gaiji)
    (root / "gaiji.csv").write_text("コード,文字,読み\n" + "".join(f"U+{ord(k):04X},{v},\n" for k, v in gaiji.items()),
                                    encoding="utf-8-sig")
    (root / "city_sources.yaml").write_text(CITY_REGISTRY.format(base=Path("params/sources.yaml").resolve()), encoding="utf-8")
    # one file for every year (the guide's layout): each year's notebooks must get that year's parameters back
    (root / "city2025.yaml").write_text(
        f"extends: {Path('params/fy2025.yaml').resolve()}\ningest:\n  registry: city_sources.yaml\n  gaiji: gaiji.csv\n"
        "years:\n  2024: {reference_date: 2024-09-01}\n  2025: {}\n", encoding="utf-8")
    base = load_params(root / "city2025.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out")})
    years = {fy: year_params(base, fy) for fy in (2024, 2025)}
    pipeline.run_plan(pipeline.Plan(years, {fy: STEPS for fy in years}))
    return root, base


def _list(out: Path, fy: int) -> pd.DataFrame:
    t = pd.read_csv(out / "reports" / "internal" / f"fy{fy}" / "extraction.csv", dtype=str, keep_default_na=False,
                    encoding="utf-8-sig")
    return t[["宛名番号", "グループ", "順位"]].sort_values(["グループ", "順位", "宛名番号"]).reset_index(drop=True)


def test_the_same_list_fairness_and_quarantine_as_the_default_layout(layout, smoke_run: Path) -> None:
    root, _ = layout
    for fy in (2024, 2025):   # each year's steps ran that year, not the file's latest
        assert (root / "out" / "processed" / f"fy{fy}").is_dir()
    for fy in (2024, 2025):
        pd.testing.assert_frame_equal(_list(root / "out", fy), _list(smoke_run / "out", fy))
        q = pd.read_csv(root / "out" / "processed" / f"fy{fy}" / "quarantine.csv", encoding="utf-8-sig")
        clean = pd.read_csv(smoke_run / "out" / "processed" / f"fy{fy}" / "quarantine.csv", encoding="utf-8-sig")
        assert sorted(zip(q["source"], q["row"], strict=True)) == sorted(zip(clean["source"], clean["row"], strict=True))
    fair = "processed/fy2025/ranking_fairness.csv"
    pd.testing.assert_frame_equal(pd.read_csv(root / "out" / fair), pd.read_csv(smoke_run / "out" / fair))


def test_no_paper_carries_a_private_use_character(layout) -> None:
    root, _ = layout
    internal = root / "out" / "reports" / "internal"
    files = [f for f in internal.rglob("*") if f.suffix in (".csv", ".html")]
    assert files
    for f in files:
        assert not PRIVATE_USE.search(f.read_text(encoding="utf-8-sig")), f.name
    from openpyxl import load_workbook

    for f in internal.rglob("*.xlsx"):
        for ws in load_workbook(f).worksheets:
            for row in ws.iter_rows(values_only=True):
                assert not any(isinstance(v, str) and PRIVATE_USE.search(v) for v in row), f.name


def test_codes_are_read_through_the_registry(layout) -> None:
    _, base = layout
    assert code_labels(base, "sex") == {"1": "男", "2": "女"}
    assert code_for(base, "nationality", "外国") == "2"
    juki = load_registry(base)["juki"]
    assert juki["encoding"] == "utf-8-sig" and "性別区分" in juki["columns"] and "性別" not in juki["columns"]
    assert juki["columns"]["性別区分"]["required"] and juki["unique"] == ["個人宛名コード"], "properties kept, unique follows"


def test_sources_check_prints_what_matched(layout, capsys) -> None:
    root, _ = layout
    code = cli.main(["sources", "check", "--raw-dir", str(root / "raw"), "--params", str(root / "city2025.yaml")])
    out = capsys.readouterr().out
    assert code == 0 and "住民基本台帳" in out and "実行できます" in out and "必須の列がありません" not in out
    code = cli.main(["sources", "check", "--raw-dir", str(root / "raw"), "--params", "params/fy2025.yaml"])
    out = capsys.readouterr().out
    assert code == 1 and "必須の列がありません: 宛名番号" in out and "登録簿にない列" in out and "個人宛名コード" in out


@pytest.mark.parametrize(("entry", "said"), [
    ("      性別区分: {name: sex, lables: {男: 1}}", "lables"),
    ("      性別区分: {name: sex, values: {男: \"9\"}}", "values が列にないコード"),
    ("      カナ氏名: {name: name_kana, type: katakana}", "type"),
    ("      カナ氏名: {name: name}\n      氏名: {name: name}", "同じ列名"),
])
def test_a_registry_mistake_is_one_line(layout, tmp_path: Path, capsys, entry: str, said: str) -> None:
    root, _ = layout
    f = tmp_path / "city_sources.yaml"
    f.write_text(f"extends: {Path('params/sources.yaml').resolve()}\nsources:\n  juki:\n    columns:\n{entry}\n", encoding="utf-8")
    p = tmp_path / "p.yaml"
    p.write_text(f"extends: {root / 'city2025.yaml'}\ningest:\n  registry: {f}\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=said):
        load_registry(load_params(p))
    code = cli.main(["run", "--params", str(p), "--raw-dir", str(root / "raw"), "--out-dir", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and said in err and str(f) in err and "juki" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "processed").exists(), "nothing ran"


def test_a_misspelt_top_level_key_is_named(tmp_path: Path) -> None:
    f = tmp_path / "r.yaml"
    f.write_text(f"extends: {Path('params/sources.yaml').resolve()}\nsorces:\n  juki: {{}}\n", encoding="utf-8")
    p = tmp_path / "p.yaml"
    p.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\ningest:\n  registry: {f}\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="sorces"):
        load_registry(load_params(p))


def test_excel_serial_dates_and_western_forms() -> None:
    assert parse_date("45748", serial=True) == dt.date(2025, 4, 1) and parse_date("45748") is None
    assert parse_date("2015/4/1") == parse_date("2015.4.1") == parse_date("2015年4月1日") == parse_date("20150401")


def test_the_guides_city_file_checks_both_years(layout, capsys) -> None:
    """The staff guide's city (one params file for every year, its registry and 外字 table) passes `mimamori sources
    check` on a city in that layout, each year with the registry that year's run will use (issue 35)."""
    root = layout[0]
    import re

    from mimamori_lib.params import run_years

    guide = (Path(__file__).resolve().parents[1] / "docs" / "運用ガイド.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", guide, re.S)
    city = root / "guide_city"
    city.mkdir(exist_ok=True)
    (city / "sources.yaml").write_text(next(b for b in blocks if "sources:" in b).replace(
        "../params/sources.yaml", str(Path("params/sources.yaml").resolve())), encoding="utf-8")
    (city / "city.yaml").write_text(next(b for b in blocks if "gaiji:" in b).replace(
        "../params/common.yaml", str(Path("params/common.yaml").resolve())), encoding="utf-8")
    shutil.copy(root / "gaiji.csv", city / "gaiji.csv")
    assert run_years(load_params(city / "city.yaml")) == [2024, 2025]
    capsys.readouterr()
    assert cli.main(["sources", "check", "--raw-dir", str(root / "raw"), "--params", str(city / "city.yaml")]) == 0
    out = capsys.readouterr().out
    assert "fy2024" in out and "fy2025" in out and "必須の列がありません" not in out


def test_a_city_file_that_changes_one_field_of_a_kind_runs(tmp_path: Path) -> None:
    """`extends` merges nested entries field by field: one weight changed, the kind's other fields and the other
    kinds kept; a recipient's sources changed, its label and basis kept; null removes an entry."""
    f = tmp_path / "city.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\nranking:\n  kinds:\n    attendance: {{weight: 3}}\n"
                 "    care: null\nsharing:\n  recipients:\n    school: {sources: [shusseki]}\n", encoding="utf-8")
    p = load_params(f)
    assert p.ranking.kinds["attendance"].weight == 3 and p.ranking.kinds["attendance"].label == "不登校"
    assert list(p.ranking.kinds) == ["poverty", "attendance"]
    school = p.sharing.recipients["school"]
    assert school.sources == ["shusseki"] and school.label == "学校" and school.per_school and school.basis
    assert list(p.sharing.recipients) == ["school", "kodomo_center"]
