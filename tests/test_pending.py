"""What the judgement could not see: a pending school record that would lift a child into group 1 is first in the
review queue and flagged on the list; confirming it moves the child."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib.extract import pending
from mimamori_lib.judgement.scoring import score_year
from mimamori_lib.params import load_params

T = pd.Timestamp
SRC = "gakko/shusseki.csv"


def _write(d: Path, name: str, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_parquet(d / f"{name}.parquet", index=False)


def _link(row: int, pid: str, status: str = "auto") -> dict:
    return {"source": SRC, "row": row, "person_id": pid if status != "review" else None, "match_probability": 0.99,
            "status": status, "reason": ""}


@pytest.fixture
def city(tmp_path: Path):
    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out"),
                                           "extraction": {"top_basic": 2, "top_other": 2}})
    d = p.processed
    d.mkdir(parents=True)
    kids = ["c1", "c2", "c3", "c4", "c5"]
    _write(d, "juki", [{"row": i, "person_id": k, "household_id": f"h{k}", "relation": "子", "birth_date": T("2014-05-05"),
                        "sex": "1", "moves_in_5y": 2 if k == "c3" else 0} for i, k in enumerate(kids, 1)])
    # basic items: c1 three (B02, B04, B05), c2 two (B02, B04), c3 one (B02); other items: c3 and c4
    _write(d, "jido_fuyo", [{"row": i, "person_id": k, "payment": "全部支給", "certified_on": T("2023-01-01")}
                            for i, k in enumerate(["c1", "c2", "c3"], 1)])
    _write(d, "kyushoku_minou", [{"row": 1, "school": "A小", "grade": "小5", "lunch_arrears_months": 4},
                                 {"row": 2, "school": "A小", "grade": "小5", "lunch_arrears_months": 4}])
    _write(d, "hoiku", [{"row": 1, "person_id": "c1", "fee_arrears_months": 5}])
    _write(d, "soudan", [{"row": 1, "person_id": "c3", "consulted_on": T("2025-05-01"), "consult_type": "養護"},
                         {"row": 2, "person_id": "c4", "consulted_on": T("2025-05-01"), "consult_type": "養護"}])
    # the attendance file: row 1 is c1's (linked), row 2 waits for review with c3 as its candidate: 40 days' absence
    _write(d, "shusseki", [{"row": 1, "school": "A小", "grade": "小5", "absence_prev": 2, "absence_prev_illness": 0,
                            "absence_cur": 0, "late_cur": 0, "early_leave_cur": 0},
                           {"row": 2, "school": "A小", "grade": "小5", "absence_prev": 45, "absence_prev_illness": 3,
                            "absence_cur": 14, "late_cur": 1, "early_leave_cur": 0}])
    _write(d, "links", [_link(1, "c1"), _link(2, "c3", "review"),
                        {"source": "gakko/kyushoku_minou.csv", "row": 1, "person_id": "c1", "match_probability": 1.0,
                         "status": "auto", "reason": ""},
                        {"source": "gakko/kyushoku_minou.csv", "row": 2, "person_id": "c2", "match_probability": 1.0,
                         "status": "auto", "reason": ""}])
    _write(d, "review_pairs", [{"source": SRC, "row": 2, "person_id": "c3", "match_probability": 0.8, "match_weight": 5.0},
                               {"source": SRC, "row": 2, "person_id": "c5", "match_probability": 0.6, "match_weight": 3.0}])
    return p


def test_a_pending_record_that_lifts_a_child_into_group_1(city) -> None:
    p = city
    scores, _, catalogue, _ = score_year(p, write=False)
    s = scores.set_index("person_id")
    assert s.loc["c3", "group"] == "other", "c3 is on the list in group 2 (one basic item only)"
    pairs = pending.pending_pairs(p)
    imp = pending.impact(p, scores, pairs, catalogue)
    first = pending.ordered_queue(imp, pairs).iloc[0]
    assert (first["row"], first["unique_id_l"]) == (2, "c3"), "the pair that changes the list is first"
    assert "基本項目上位" in first["影響"] and "B06" in first["確認すると加わる項目"] and "B07" in first["確認すると加わる項目"]
    c3 = imp.set_index("person_id").loc["c3"]
    assert c3["impact"] == 3 and c3["group_then"] == "basic"
    flag = pending.flags(scores, imp)
    assert "確認待ちの学校記録あり" in flag["c3"] and "B06" in flag["c3"], "flagged on the list with the items at stake"
    counts = pending.summary(pd.read_parquet(p.processed / "links.parquet"), imp)
    assert counts["records_pending"] == 1 and counts["children_group_could_change"] == 2, "c5, the other candidate, too"
    # staff confirm the pair: the record now reaches c3, who moves into group 1
    links = pd.read_parquet(p.processed / "links.parquet")
    links.loc[links["row"].eq(2) & links["source"].eq(SRC), ["person_id", "status"]] = ["c3", "reviewed"]
    links.to_parquet(p.processed / "links.parquet", index=False)
    after, _, _, _ = score_year(p, write=False)
    assert after.set_index("person_id").loc["c3", "group"] == "basic"
