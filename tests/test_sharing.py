"""The papers around the meeting (issue 27): the school hearing form and its answers, the hand-over papers, what each
recipient may see, the Japanese staff guide (its commands run) and a public report that prints."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import paths
from mimamori_lib.catalogue.readback import read_saved
from mimamori_lib.cli import build_parser
from mimamori_lib.extract import school_hearing
from mimamori_lib.judgement.scoring import saved_items
from mimamori_lib.meeting import handover
from mimamori_lib.params import load_params

WELFARE_WORDS = ("生活保護", "児童扶養手当", "要対協", "家庭児童相談", "生活困窮", "障害者手帳", "保育料", "健診")


def _text(f: Path) -> str:
    from openpyxl import load_workbook

    return "\n".join(str(v) for ws in load_workbook(f).worksheets for row in ws.iter_rows(values_only=True)
                     for v in row if v is not None)


def _params(root: Path, **over):
    return load_params("params/fy2025.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out"), **over})


def test_school_papers_name_only_what_a_school_may_see(smoke_run: Path) -> None:
    """Every school's hearing form and hand-over paper: no item of welfare, health or consultation records, by
    label or id; the こども家庭センター's paper may show them."""
    p = _params(smoke_run)
    _, _, catalogue = saved_items(p)
    school_sources = set(p.sharing.recipients["school"].sources)
    hidden = {i: it for i, it in catalogue.items() if it.get("source") not in school_sources}
    internal = smoke_run / "out" / "reports" / "internal" / "fy2025"
    forms = sorted((internal / "kikitori").glob("*.xlsx"))
    schools = [f for f in sorted((internal / "teikyo").glob("*.xlsx")) if f.stem != "こども家庭センター"]
    assert forms and schools, "one hearing form per school with listed pupils, one hand-over paper per school"
    seen_school_items = False
    for f in forms + schools:
        text = _text(f)
        assert "この票には学校の持つ情報のみを記載しています" in text, f.name
        for word in WELFARE_WORDS:
            assert word not in text, f"{f.parent.name}/{f.name}: {word}"
        for i, it in hidden.items():
            assert not re.search(rf"\b{i}\b", text) and it["label"] not in text, f"{f.parent.name}/{f.name}: {i}"
        seen_school_items |= bool(re.search(r"\b(B03|B04|B06|B07|N06|N07|N08)\b", text))
    assert seen_school_items, "the school-side items are there"
    center = _text(internal / "teikyo" / "こども家庭センター.xlsx")
    assert re.search(r"\b(B01|B02|B08|N01|N02)\b", center), "the center sees the assessment"


def test_a_recipient_sees_exactly_the_items_params_give_it(smoke_run: Path, tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(f"extends: {Path('params/fy2025.yaml').resolve()}\nsharing:\n  recipients:\n"
                 "    school: {label: 学校, per_school: true, sources: [], items: [B06]}\n"
                 "    soudan: {label: 教育相談センター, sources: [shusseki, tokushi]}\n"
                 "    kodomo_center: null\n", encoding="utf-8")  # a default recipient the city does not have
    p = load_params(f, {"raw_dir": str(smoke_run / "raw"), "out_dir": str(smoke_run / "out")})
    _, ev, catalogue = saved_items(p)
    dec = pd.read_parquet(smoke_run / "out" / "processed" / "fy2025" / "decisions.parquet")
    papers = handover.papers(p, dec, ev, catalogue)
    allowed = {"school": {"B06"}, "soudan": {i for i, it in catalogue.items() if it.get("source") in ("shusseki", "tokushi")}}
    assert {rid for rid, _ in papers.values()} == {"school", "soudan"}
    for name, (rid, t) in papers.items():
        shown = set(re.findall(r"\b([BNS]\d\d)\b", " ".join(t["該当する項目"])))
        assert shown <= allowed[rid], (name, shown - allowed[rid])
        if rid == "school":
            assert "学年" in t and "学校" not in t.columns


def test_the_demo_answers_reach_the_list_and_the_sheets(smoke_run: Path) -> None:
    internal = smoke_run / "out" / "reports" / "internal" / "fy2025"
    sheets = list((internal / "assessment").glob("*.html"))
    answered = [f for f in sheets if re.search(r"学校での様子</th><td>\S", f.read_text(encoding="utf-8"))]
    assert len(answered) >= len(sheets) // 2
    t = pd.read_csv(internal / "extraction.csv", encoding="utf-8-sig")
    assert t["学校からの聞き取り"].notna().sum() == len(answered)


@pytest.fixture
def answered(smoke_run: Path, tmp_path: Path) -> Path:
    for d in ("raw", "out"):
        shutil.copytree(smoke_run / d, tmp_path / d)
    return tmp_path


def test_answers_round_trip_from_xlsx_and_csv(answered: Path) -> None:
    p = _params(answered)
    scores = pd.read_parquet(answered / "out" / "processed" / "fy2025" / "scores.parquet")
    before, q = school_hearing.read_answers(p, scores)
    assert len(before) > 0 and q.empty
    folder = answered / "raw" / "fy2025" / "kikitori"
    f = sorted(folder.glob("*.xlsx"))[0]
    t = read_saved(f, ["抽出ID", *school_hearing.ANSWERS], "回答", "票")
    pd.DataFrame(t.rows, columns=t.header).to_csv(f.with_suffix(".csv"), index=False, encoding="cp932")
    f.unlink()
    after, q = school_hearing.read_answers(p, scores)
    assert q.empty
    cols = ["person_id", *school_hearing.ANSWERS]
    pd.testing.assert_frame_equal(after[cols].sort_values("person_id").reset_index(drop=True),
                                  before[cols].sort_values("person_id").reset_index(drop=True))


def test_a_row_of_another_school_or_an_unknown_id_is_quarantined(answered: Path) -> None:
    from openpyxl import load_workbook

    p = _params(answered)
    scores = pd.read_parquet(answered / "out" / "processed" / "fy2025" / "scores.parquet")
    folder = answered / "raw" / "fy2025" / "kikitori"
    first, second = sorted(folder.glob("*.xlsx"))[:2]
    other_id = load_workbook(second).active.cell(2, 1).value
    wb = load_workbook(first)
    ws = wb.active
    ws.append([other_id, "", "", "", "", "", "登校している", "", "", "担任", None])
    ws.append(["25-ZZZZZZ", "", "", "", "", "", "登校している", "", "", "担任", "2025/13/45"])
    wb.save(first)
    _, q = school_hearing.read_answers(p, scores)
    reasons = set(q["reason"])
    assert any("この学校の児童生徒ではありません" in r for r in reasons)
    assert "今年度の抽出リストにない抽出IDです" in reasons and "日付として読めません" in reasons
    assert set(q["row"]) == {ws.max_row - 1, ws.max_row}, "the rows Excel shows"


def _guide() -> str:
    return (paths.ROOT / "docs" / "運用ガイド.md").read_text(encoding="utf-8")


def test_the_guide_is_japanese_and_linked_from_readme() -> None:
    text = _guide()
    assert len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", text)) > 2000
    assert "docs/運用ガイド.md" in (paths.ROOT / "README.md").read_text(encoding="utf-8").split("## ")[0]


def test_every_command_of_the_guide_is_one_the_cli_takes() -> None:
    commands = [line.strip() for block in re.findall(r"```bash\n(.*?)```", _guide(), re.S) for line in block.splitlines()
                if line.strip().startswith(".venv/bin/mimamori")]
    assert len(commands) >= 4
    for c in commands:
        build_parser().parse_args(shlex.split(c)[1:])  # argparse exits on a command it does not take


def test_the_guides_tier_band_params_load(tmp_path: Path) -> None:
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", _guide(), re.S) if "tier_band" in b)
    shutil.copytree(paths.PARAMS, tmp_path / "params")
    (tmp_path / "city").mkdir()
    (tmp_path / "city" / "fy2025.yaml").write_text(block, encoding="utf-8")
    p = load_params(tmp_path / "city" / "fy2025.yaml")
    assert p.extraction.tier_band == 100 and p.extraction.ranking == "model" and p.extraction.strata.enabled
    assert p.ranking.kinds["attendance"].weight == 5.0, "the guide names the weight params give"


def test_the_guides_city_registry_and_params_load(tmp_path: Path) -> None:
    """The guide's city: one params file for every year, with its registry and 外字 table in each year's params."""
    from mimamori_lib.catalogue.registry import load_registry
    from mimamori_lib.params import run_years, year_params
    from mimamori_lib.text.gaiji import load_table

    blocks = re.findall(r"```yaml\n(.*?)```", _guide(), re.S)
    registry = next(b for b in blocks if "sources:" in b)
    city_params = next(b for b in blocks if "gaiji:" in b)
    shutil.copytree(paths.PARAMS, tmp_path / "params")
    (tmp_path / "city").mkdir()
    (tmp_path / "city" / "sources.yaml").write_text(registry, encoding="utf-8")
    (tmp_path / "city" / "city.yaml").write_text(city_params, encoding="utf-8")
    table = re.search(r"```\n(コード,文字.*?)```", _guide(), re.S)[1]
    (tmp_path / "city" / "gaiji.csv").write_text(table, encoding="utf-8")
    base = load_params(tmp_path / "city" / "city.yaml")
    assert run_years(base) == [2024, 2025] and base.fiscal_year == 2025
    for fy in run_years(base):
        p = year_params(base, fy)
        reg = load_registry(p)
        assert "個人宛名コード" in reg["juki"]["columns"] and reg["juki"]["encoding"] == "utf-8-sig", fy
        assert load_table(p.ingest.gaiji) == {"\ue001": "髙", "\ue002": "﨑"}, fy
        assert p.reference_date.year == fy


def test_the_public_report_prints_as_a_handout(smoke_run: Path) -> None:
    html = (smoke_run / "out" / "reports" / "public" / "成果報告会_2025.html").read_text(encoding="utf-8")
    assert "size: A4 landscape" in html and "counter(page)" in html and "break-inside: avoid" in html
    tables = re.findall(r"<table.*?</table>", html, re.S)
    cases = [t for t in tables if "ケース1" in t]
    assert cases and "ケース2" in cases[0], "cases side by side, as in the results report"
