"""支援の成果 (45_cases): the de-identification check with planted identities, the case records read back, the
narrative file, and the public follow-up's disclosure control."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mimamori_lib.cases.deidentify import check_case, check_text, identity_terms, town
from mimamori_lib.cases.records import read_records
from mimamori_lib.errors import InputError
from mimamori_lib.params import load_params

CHILD = {"name": "河野 陽葵", "family_name": "河野", "given_name": "陽葵", "name_kana": "カワノ ヒマリ",
         "family_kana": "カワノ", "given_kana": "ヒマリ", "address": "春木1050-30", "atena_no": "0003364227",
         "setai_no": "0000100055"}
MOTHER = {"name": "河野 典子", "family_name": "河野", "given_name": "典子", "name_kana": "カワノ ノリコ",
          "family_kana": "カワノ", "given_kana": "ノリコ", "address": "春木1050-30", "atena_no": "0040522147",
          "setai_no": "0000100055"}


@pytest.fixture
def ident():
    return identity_terms([CHILD, MOTHER], ["別府市立上人小学校"])


CLEAN = "就学援助を受けており、2024年10月から学校と福祉の担当が関わった。6〜11歳。3か月ほどで欠席が減った。"


def test_a_clean_text_passes(ident) -> None:
    assert check_text(CLEAN, ident) == []
    assert check_text("", ident) == []


@pytest.mark.parametrize(("text", "kind"), [
    ("河野陽葵さんは欠席が増えていた。", "氏名"), ("陽葵さんと面談した。", "氏名"), ("母の典子さんが相談に来た。", "氏名"),
    ("髙野", None),                                                       # another family: nothing
    ("ひまりさんは元気になった。", "氏名の読み"), ("ﾉﾘｺさんと話した", "氏名の読み"),
    ("上人小学校の担任から連絡があった。", "学校名"), ("上人小で相談した", "学校名"), ("青山中学校に進学した", "学校・園の名前"),
    ("春木の自宅を訪問した", "住所"), ("宛名番号 0003364227 の世帯", "宛名番号・世帯番号"), ("番号 3364227", "宛名番号・世帯番号"),
    ("2024年10月3日に面談", "日付 (日まで)"), ("10月3日に面談", "日付 (日まで)"), ("R6.10.3 に面談", "日付 (日まで)"),
    ("令和6年10月3日に面談", "日付 (日まで)"), ("2024/10/03 面談", "日付 (日まで)"), ("十月三日に面談", "日付 (日まで)"),
    ("10歳の男の子", "年齢"), ("十歳", "年齢"), ("小4の児童", "学年"), ("中学2年のとき", "学年"), ("4年生の春", "学年"),
    ("電話 0977123456", "番号"),
])
def test_planted_identities_are_found(ident, text, kind) -> None:
    found = check_text(text, ident)
    assert (kind in found) if kind else found == [], (text, found)


def test_findings_name_the_column_and_kind_never_the_text(ident) -> None:
    from mimamori_lib.cases.deidentify import describe

    f = check_case({"判定前の状況": "河野陽葵さんは10月3日から欠席", "効果・示唆": CLEAN}, ident)
    assert {(x.column, x.kind) for x in f} == {("判定前の状況", "氏名"), ("判定前の状況", "日付 (日まで)")}
    d = describe(f)
    assert "判定前の状況" in d and "河野" not in d and "10月3日" not in d


def test_town_of_an_address() -> None:
    assert town("春木1050-30") == "春木"
    assert town("南町三丁目1-2") == "南町"
    assert town("ＡＢ町１－２") == "AB町"


# --- read-back --------------------------------------------------------------------------------------

def _params(tmp_path: Path):
    return load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out")})


def test_records_are_validated_row_by_row(tmp_path: Path) -> None:
    p = _params(tmp_path)
    scores = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "extract_id": ["X1", "X2", "X3", None]})
    dec = pd.DataFrame({"person_id": ["a", "b", "c"], "extract_id": ["X1", "X2", "X3"], "support_needed": ["要", "要", "否"]})
    f = p.raw_year / "shien" / "jirei.csv"
    f.parent.mkdir(parents=True)
    head = "抽出ID,判定前の状況,確認できた状況,状況の変化,効果・示唆,公開可否,記録日\n"
    body = ["X1,秘密の記述,b,c,d,可,2025/03/01", "X9,t,b,c,d,可,", "X3,t,b,c,d,否,", "X1,t,b,c,d,可,",
            "X2,t,b,c,d,たぶん,2025/13/40", "X2,,,,,否,", "X2,t,b,c,d"]
    f.write_text(head + "\n".join(body) + "\n", encoding="utf-8-sig")
    recs, q = read_records(p, dec, scores)
    assert recs["extract_id"].tolist() == ["X1"] and recs["public"].tolist() == [True]
    assert recs["recorded_on"].iloc[0] == pd.Timestamp("2025-03-01")
    reasons = set(zip(q["row"], q["reason"], strict=True))  # rows as Excel shows them (the header is row 1)
    assert (3, "今年度の抽出リストにない抽出IDです") in reasons
    assert (4, "会議で支援要と判断されていないこどもの抽出IDです") in reasons
    assert (5, "同じ抽出IDが前の行にもあります") in reasons
    assert {(6, "公開可否は 可・否 のいずれかです"), (6, "日付として読めません")} <= reasons
    assert (7, "記述の列がすべて空欄です") in reasons
    assert any(r == 8 for r, _ in reasons), "a short row is not read as a record"
    assert "秘密" not in q.to_csv(), "the quarantine report carries no narrative text"


def test_a_file_without_the_columns_says_which(tmp_path: Path) -> None:
    p = _params(tmp_path)
    f = p.raw_year / "shien" / "jirei.csv"
    f.parent.mkdir(parents=True)
    f.write_text("抽出ID,メモ\nX1,a\n", encoding="utf-8-sig")
    with pytest.raises(InputError, match="判定前の状況"):
        read_records(p, None, pd.DataFrame({"person_id": ["a"], "extract_id": ["X1"]}))


# --- narrative --------------------------------------------------------------------------------------

def _e(published: bool) -> SimpleNamespace:
    """What the narrative reads of the evaluation's result."""
    from mimamori_lib.disclosure import System

    f = {"fy": 2025, "in_scope": 800, "extracted": 40, "decided": 38, "already_supported": 3, "new_need": 12, "new_in_tier": 4}
    keys = {("FY2025", k) for k in f if k != "fy"}
    pub = keys if published else keys - {("FY2025", "already_supported")}
    return SimpleNamespace(funnels=[f], process=[{"fy": 2025, "sources_loaded": 19, "rows_read": 12345, "departments": 8,
                                                  "rows_quarantined": 7, "review_queue": 5, "linkage_rate": 0.987}],
                           system=System(values={k: 1 for k in keys}, published=pub))


def test_the_narrative_fills_figures_and_never_a_hidden_one(tmp_path: Path) -> None:
    from mimamori_lib.evaluation.narrative import HIDDEN, render

    p = _params(tmp_path)
    out = render(p, _e(published=False))
    phases = out["phases"]
    assert "800" in out["overview"] and "8 つの課" in out["process"]
    assert HIDDEN in phases.loc["抽出", "課題"] and "3 人" not in phases.loc["抽出", "課題"]
    assert "3" in render(p, _e(published=True))["phases"].loc["抽出", "課題"]
    assert phases.attrs.get("disclosure_protected")


def test_a_year_before_its_meeting_says_so(tmp_path: Path) -> None:
    from mimamori_lib.evaluation.narrative import NOT_YET, render

    e = _e(published=True)
    e.funnels = [{"fy": 2025, "in_scope": 800, "extracted": 40, "decided": 0}]
    out = render(_params(tmp_path), e)
    assert NOT_YET in out["overview"] and "40" in out["overview"]


def test_an_unknown_figure_name_is_named_with_the_file(tmp_path: Path) -> None:
    from mimamori_lib.evaluation.narrative import render

    f = tmp_path / "n.yaml"
    f.write_text("overview: 'FY{fy} は {children_helped} 人'\n", encoding="utf-8")
    p = _params(tmp_path).with_overrides({"evaluation": {"narrative": str(f)}})
    with pytest.raises(InputError, match=r"n\.yaml.*overview.*children_helped"):
        render(p, _e(published=True))
    f.write_text("overveiw: x\n", encoding="utf-8")
    with pytest.raises(InputError, match="overveiw"):
        render(p, _e(published=True))


def test_no_figure_is_written_in_the_default_narrative() -> None:
    import re

    from mimamori_lib.evaluation.narrative import PHASE_KEYS
    from mimamori_lib.params import read_data_file

    data = read_data_file(Path("params/narrative.yaml"))
    texts = [data["overview"], data["closing"], *[ph.get(k, "") for ph in data["phases"] for k in PHASE_KEYS]]
    process = re.sub(r"^\d+\. ", "", data["process"], flags=re.M)     # list numbering is not a figure
    for t in [*texts, process]:
        assert not re.search(r"\d", re.sub(r"\{[a-z_]+\}", "", t)), t


# --- the public follow-up ---------------------------------------------------------------------------

def _fus(p, small: bool) -> list[dict]:
    big = {"n": 30, "in_city": 28, "compared": 20, "fewer": 9, "same": 6, "more": 5, "median_change": -2.0}
    if small:
        big = {**big, "compared": 4, "fewer": 2, "same": 1, "more": 1}
    for t in p.cases.themes:
        big[f"theme:{t}"] = 7
    for s in p.cases.status:
        big[f"status:{s}"] = 1 if small else 6
    return [{"fy": 2024, "seen": 2025, "counts": {"支援要": dict(big), "否": dict(big)}}]


@pytest.mark.parametrize("small", [False, True])
def test_the_public_follow_up_is_audited_with_the_funnel(tmp_path: Path, small: bool) -> None:
    from mimamori_lib import disclosure
    from mimamori_lib.evaluation.funnel import publish
    from mimamori_lib.evaluation.public_follow_up import follow_up_system, follow_up_table

    p = _params(tmp_path)
    fus = _fus(p, small)
    funnels = [{"fy": 2024, "in_scope": 800, "extracted": 70, "extracted_basic": 20, "extracted_other": 10, "extracted_tier": 40,
                "decided": 65, "already_supported": 10, "need_support": 30, "new_need": 25, "new_in_top": 10, "new_in_tier": 15,
                "on_hold": 5, "support_started": 20}]
    pub = publish(funnels, p.disclosure.threshold, p.disclosure.protection, 0.05, 0.8,
                  [follow_up_system(fus, p, p.disclosure.threshold)])
    assert pub["audit"].passed
    t = follow_up_table(fus, p, pub["system"])
    disclosure.assert_protected(t)
    vals = t.iloc[:-1].to_numpy().ravel()
    assert all(v == disclosure.MASK or int(v) == 0 or int(v) >= p.disclosure.threshold for v in vals)
    med = t.loc["欠席日数の変化 (中央値)"].tolist()
    if small:
        assert disclosure.MASK in t.loc["　欠席が 3 日以上増えた"].tolist() and all(m == "非公表" for m in med)
    else:
        assert med == ["-2.0 日", "-2.0 日"] and t.loc["会議で判断した人数"].tolist() == ["30", "30"]


def test_the_follow_up_compares_the_same_months(small_city_cases) -> None:
    fu = small_city_cases
    assert set(fu["decision"]) <= {"支援要", "否", "保留"} and fu["person_id"].is_unique
    both = fu.dropna(subset=["absence_before", "absence_after"])
    assert len(both) and np.allclose(both["absence_change"], both["absence_after"] - both["absence_before"])
    assert set(fu["attendance"]) <= {"減った", "変化なし", "増えた", "比べられない"}
    assert (fu.loc[fu["absence_before"].isna(), "attendance"] == "比べられない").all()
    assert "name" not in fu and "atena_no" not in fu


@pytest.fixture(scope="module")
def small_city_cases(smoke_run):
    from mimamori_lib.cases import read_follow_up

    p = load_params("params/smoke.yaml", {"raw_dir": str(smoke_run / "raw"), "out_dir": str(smoke_run / "out")})
    fu = read_follow_up(p)
    assert fu is not None and len(fu)
    return fu


def test_the_demo_writes_template_records_follow_up_and_cases(smoke_run) -> None:
    import json

    out = smoke_run / "out"
    for fy in ("fy2024", "fy2025"):
        internal = out / "reports" / "internal" / fy
        tpl = pd.read_excel(internal / "jirei_template.xlsx", sheet_name="事例記録", dtype=str)
        dec = pd.read_parquet(out / "processed" / fy / "decisions.parquet")
        assert sorted(tpl["抽出ID"]) == sorted(dec.loc[dec["support_needed"] == "要", "extract_id"])
        recs = pd.read_parquet(out / "processed" / fy / "restricted" / "jirei.parquet")
        assert len(recs) == len(tpl)
        planted = recs[recs["public"] & ~recs["passed"]]
        assert len(planted) == 1 and "氏名" in planted["check"].iloc[0], "the demo's planted name is caught"
        html = (internal / "jirei.html").read_text(encoding="utf-8")
        assert "掲載しません: 個人が分かる記述" in html
    assert (out / "reports" / "internal" / "fy2025" / "follow_up.xlsx").exists()
    assert not (out / "processed" / "fy2024" / "follow_up.parquet").exists()
    page = (out / "reports" / "fy2025" / "45_cases.html").read_text(encoding="utf-8")
    assert "公開資料に掲載" in page
    pub = (out / "reports" / "public" / "成果報告会_2025.html").read_text(encoding="utf-8")
    assert "会議で判断したこどものその後" in pub and "ケース1" in pub and "効果・示唆" in pub
    rec = json.loads((out / "processed" / "fy2025" / "public_audit.json").read_text(encoding="utf-8"))
    assert any(str(k).find("fu:") >= 0 for k in rec["funnel"]["intervals"]) or rec["funnel"]["passed"]
