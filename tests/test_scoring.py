"""判定: every catalogue rule on hand-made cases, the tie rule at the cut-off, exclusion and the tier band."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import meeting
from mimamori_lib.catalogue import datasets
from mimamori_lib.judgement.indicators import (
    children_in_scope,
    evidence,
    item_matrix,
    load_catalogue,
    registry,
)
from mimamori_lib.judgement.scoring import extract
from mimamori_lib.params import Extraction, load_params

T = pd.Timestamp
REF = "2025-09-01"


def _write(d: Path, name: str, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_parquet(d / f"{name}.parquet", index=False)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """A hand-made processed year: children c1 (10), c2 (8), c3 (3); parents a1, a2; grandparent g1."""
    root = tmp_path_factory.mktemp("mini")
    p = load_params("params/fy2025.yaml", {"raw_dir": str(root / "raw"), "out_dir": str(root / "out"),
                                           "indicators": {"survey_items": True}})
    d = p.processed
    d.mkdir(parents=True)
    person = lambda pid, hh, born, rel, moves=0: {"row": 0, "person_id": pid, "household_id": hh, "relation": rel,  # noqa: E731
                                                  "birth_date": T(born), "sex": "1", "moves_in_5y": moves}
    _write(d, "juki", [person("c1", "h1", "2015-01-10", "子"), person("a1", "h1", "1985-01-01", "母"),
                       person("g1", "h1", "1955-01-01", "祖母"), person("c2", "h2", "2017-03-03", "子", 2),
                       person("a2", "h2", "1990-02-02", "世帯主"), person("c3", "h3", "2022-01-01", "子"),
                       person("a9", "h9", "1970-01-01", "世帯主")])
    _write(d, "seiho", [{"row": 1, "person_id": "a1", "started_on": T("2020-01-01"), "ended_on": pd.NaT},
                        {"row": 2, "person_id": "a2", "started_on": T("2019-01-01"), "ended_on": T("2021-01-01")}])
    _write(d, "jido_fuyo", [{"row": 1, "person_id": "c1", "payment": "全部支給", "certified_on": T("2023-01-01")},
                            {"row": 2, "person_id": "c2", "payment": "全部停止", "certified_on": T("2023-01-01")}])
    _write(d, "hoiku", [{"row": 1, "person_id": "c3", "fee_arrears_months": 3}])
    _write(d, "yotaikyo", [{"row": 1, "person_id": "c3", "category": "要支援児童", "registered_on": T("2024-05-01"), "closed_on": pd.NaT},
                           {"row": 2, "person_id": "c1", "category": "要保護児童", "registered_on": T("2022-05-01"), "closed_on": T("2023-01-01")},
                           {"row": 3, "person_id": "a1", "category": "特定妊婦", "registered_on": T("2025-05-01"), "closed_on": pd.NaT}])
    _write(d, "soudan", [{"row": 1, "person_id": "c1", "consulted_on": T("2025-03-01"), "consult_type": "養護"},
                         {"row": 2, "person_id": "c2", "consulted_on": T("2024-03-01"), "consult_type": "養護"}])
    _write(d, "konkyu", [{"row": 1, "person_id": "a2", "consulted_on": T("2025-06-01"), "main_issue": "仕事"}])
    _write(d, "kenshin", [{"row": 1, "person_id": "c3", "check": "1歳6か月", "status": "未受診", "attended_on": pd.NaT}])
    _write(d, "yobosesshu", [{"row": 1, "person_id": "c3", "vaccine": "MR1期", "status": "未"},
                             {"row": 2, "person_id": "c3", "vaccine": "水痘", "status": "未"},
                             {"row": 3, "person_id": "c1", "vaccine": "MR2期", "status": "未"}])
    _write(d, "ninshin", [{"row": 1, "mother_person_id": "a9", "person_id": "c3", "notified_on": T("2021-08-01"),
                           "weeks_at_notification": 22, "mother_age_at_notification": 30}])
    _write(d, "techo", [{"row": 1, "person_id": "g1", "certificate": "身体"}, {"row": 2, "person_id": "a2", "certificate": "精神"},
                        {"row": 3, "person_id": "c3", "certificate": "療育"}])
    _write(d, "jidoshien", [{"row": 1, "person_id": "c3", "service": "児童発達支援", "started_on": T("2024-04-01")}])
    # school-network files reach children through links
    _write(d, "shusseki", [{"row": 1, "school": "A小", "grade": "小5", "absence_prev": 40, "absence_prev_illness": 5, "absence_cur": 2,
                            "late_cur": 10, "early_leave_cur": 5},
                           {"row": 2, "school": "A小", "grade": "小3", "absence_prev": 35, "absence_prev_illness": 10, "absence_cur": 12,
                            "late_cur": 0, "early_leave_cur": 0}])
    _write(d, "hokenshitsu", [{"row": 1, "school": "A小", "grade": "小3", "nurse_visits": 10}])
    _write(d, "kyushoku_minou", [{"row": 1, "school": "A小", "grade": "小5", "lunch_arrears_months": 3},
                                 {"row": 2, "school": "A小", "grade": "小3", "lunch_arrears_months": 2}])
    _write(d, "tokushi", [{"row": 1, "school": "A小", "grade": "小5", "class_type": "知的障害"}])
    _write(d, "shugaku_enjo", [{"row": 1, "parent_person_id": "a2", "category": "準要保護"}])
    _write(d, "seikatsu", [{"row": 1, "school": "A小", "grade": "小5", "q1_breakfast": "4", "q2_bedtime": "4", "q5_someone_to_talk": "1",
                            "q6_school_enjoyable": "1", "q9_family_care": "3"}])
    link = lambda src, row, pid: {"source": src, "row": row, "person_id": pid, "match_probability": 1.0, "status": "auto"}  # noqa: E731
    _write(d, "links", [link("gakko/shusseki.csv", 1, "c1"), link("gakko/shusseki.csv", 2, "c2"),
                        link("gakko/hokenshitsu.csv", 1, "c2"), link("gakko/kyushoku_minou.csv", 1, "c1"),
                        link("gakko/kyushoku_minou.csv", 2, "c2"), link("gakko/tokushi.csv", 1, "c1"),
                        link("gakko/shugaku_enjo.csv", 1, "c2"), link("survey/seikatsu.csv", 1, "c1")])
    cat = load_catalogue(p)
    juki = registry(p)
    ev = evidence(p, cat, juki, pd.read_parquet(d / "links.parquet"))
    m = item_matrix(children_in_scope(juki), ev, cat).set_index("person_id")
    return p, ev, m


EXPECTED = {  # item: (children who match, children who are "near")
    "B01": ({"c1"}, set()), "B02": ({"c1"}, set()), "B03": ({"c2"}, set()), "B04": ({"c1"}, {"c2"}),
    "B05": ({"c3"}, set()), "B06": ({"c1"}, {"c2"}), "B07": ({"c2"}, set()), "B08": ({"c3"}, set()),
    "B09": ({"c3"}, set()), "B10": ({"c3"}, {"c1"}), "N01": ({"c1"}, set()), "N02": ({"c2"}, set()),
    "N03": ({"c2"}, set()), "N04": ({"c3"}, set()), "N05": ({"c3"}, set()), "N06": ({"c1"}, set()),
    "N07": ({"c2"}, set()), "N08": ({"c1"}, set()), "N09": ({"c2"}, set()), "N10": ({"c3"}, set()),
    "S01": ({"c1"}, set()), "S02": ({"c1"}, set()), "S03": (set(), set()), "S04": ({"c1"}, set()), "S05": (set(), set()),
}


@pytest.mark.parametrize("item", sorted(EXPECTED))
def test_each_rule(mini, item: str) -> None:
    _, ev, m = mini
    want_match, want_near = EXPECTED[item]
    assert set(m.index[m[item] == 1]) == want_match
    near = set(ev.loc[(ev["item"] == item) & (ev["kind"] == "near"), "person_id"])
    assert want_near <= near and not (near & want_match)


def test_scope_and_counts(mini) -> None:
    _, _, m = mini
    assert set(m.index) == {"c1", "c2", "c3"}, "children 0–18 only; adults are never scored"
    assert m.loc["c1", "basic_count"] == 4 and m.loc["c3", "basic_count"] == 4
    assert m.loc["c2", "basic_count"] == 2


def test_survey_items_off_by_default() -> None:
    p = load_params("params/fy2025.yaml")
    assert not any(k.startswith("S") for k in load_catalogue(p))


def _scores(rows: list[tuple[str, int, int, bool]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["person_id", "basic_count", "other_count", "supported"])
    df["basic_value"], df["other_value"] = df["basic_count"].astype(float), df["other_count"].astype(float)
    return df


def _p(**ex) -> Extraction:
    return Extraction(**{"top_basic": 2, "top_other": 1, **ex})


def test_ties_at_cutoff_all_included_and_flagged() -> None:
    s = _scores([("a", 3, 0, False), ("b", 2, 1, False), ("c", 2, 1, False), ("d", 2, 0, False), ("e", 0, 2, False), ("f", 0, 0, False)])
    x = extract(s, _p()).set_index("person_id")
    assert set(x.index[x["group"] == "basic"]) == {"a", "b", "c"}, "b and c tie at the cut-off: both included"
    assert x.loc["b", "tied"] and x.loc["c", "tied"] and x.loc["b", "cutoff_tie"] and not x.loc["a", "cutoff_tie"]
    assert list(x.loc[["a", "b", "c"], "rank"]) == [1, 2, 2]
    assert set(x.index[x["group"] == "other"]) == {"e"}, "group 2 from the rest, by other count"
    assert x.loc["f", "group"] == "", "no items, never extracted"


def test_ties_break_is_deterministic() -> None:
    s = _scores([("a", 3, 0, False), ("c", 2, 1, False), ("b", 2, 1, False)])
    x1 = extract(s, _p(ties="break"))
    x2 = extract(s.iloc[::-1].reset_index(drop=True), _p(ties="break"))
    assert (x1["group"] == "basic").sum() == 2
    assert set(x1.loc[x1["group"] == "basic", "person_id"]) == set(x2.loc[x2["group"] == "basic", "person_id"]) == {"a", "b"}


def test_exclusion_and_tier_band() -> None:
    s = _scores([("a", 4, 0, True), ("b", 3, 0, False), ("c", 2, 0, False), ("d", 1, 0, False), ("e", 1, 0, True),
                 ("f", 0, 1, False)])
    x = extract(s, _p(exclude_supported=True, top_other=0, tier_band=2)).set_index("person_id")
    assert set(x.index[x["group"] == "basic"]) == {"b", "c"}, "already supported children skipped"
    assert set(x.index[x["group"] == "tier"]) == {"d", "f"}, "the next not-yet-supported children below the top"
    assert x.loc["a", "group"] == "" and x.loc["e", "group"] == ""
    y = extract(s, _p()).set_index("person_id")
    assert set(y.index[y["group"] == "basic"]) == {"a", "b"}, "by default supported children stay on the list"


def test_decisions_read_back_and_unknown_ids_quarantined(tmp_path: Path) -> None:
    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out")})
    scores = pd.DataFrame({"person_id": ["x", "y", "z"], "extract_id": ["25-AAAAAA", "25-BBBBBB", None],
                           "group": ["basic", "other", ""]})
    f = datasets.saved_target(p, "decisions")
    f.parent.mkdir(parents=True)
    f.write_text("抽出ID,氏名,既支援,支援要否,困難の類型,支援内容,支援開始日,判断日\r\n"
                 "25-AAAAAA,田中 蓮,0,要,貧困・発達・障害,相談支援,2025/11/01,2025/10/16\r\n"
                 "25-BBBBBB,佐藤 凛,○,否,その他,,,R7.10.16\r\n"
                 "25-ZZZZZZ,山田 花,1,要,貧困,相談支援,,2025/10/16\r\n"
                 "25-BBBBBB,佐藤 凛,1,多分,謎,,2025/13/01,2025/10/16\r\n", encoding="utf-8-sig")
    dec, q = meeting.read_decisions(p, scores)
    assert list(dec["person_id"]) == ["x", "y"]
    assert dec.loc[0, "difficulty_types"] == "貧困・発達・障害" and not dec.loc[0, "already_supported"]
    assert bool(dec.loc[1, "already_supported"]) and dec.loc[1, "decided_on"] == T("2025-10-16")
    assert set(q["row"]) == {4, 5}, "rows as Excel shows them (the header is row 1)"
    assert "今年度の抽出リストにない抽出IDです" in set(q["reason"])
    assert {"支援要否", "困難の類型", "支援開始日", "抽出ID"} <= set(q.loc[q["row"] == 5, "column"])
