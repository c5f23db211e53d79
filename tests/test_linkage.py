"""名寄せ: accuracy on the synthetic city, Splink pitfalls, twins, one-to-one, review decisions."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import linkage
from mimamori_lib.ingest import read_identity
from mimamori_lib.params import Linkage as LinkageParams
from mimamori_lib.synth.evaluate import linkage_accuracy


def test_accuracy_at_beppu_scale(beppu: Path, beppu_processed) -> None:
    p, _, res = beppu_processed
    acc = linkage_accuracy(res.links, read_identity(p), beppu / "synthetic_truth" / "fy2025")
    assert acc["precision"] >= 0.998, acc
    assert acc["f1"] >= 0.995, acc
    assert acc["merged_twins"] == 0, acc
    assert acc["absent_linked"] == 0, "children absent from the registry stay unmatched"
    assert res.training.converged


def test_one_to_one_per_source(beppu_processed) -> None:
    _, _, res = beppu_processed
    linked = res.links[res.links["person_id"].notna()]
    assert not linked.duplicated(["source", "person_id"]).any(), "a child links to at most one record of a source"
    assert not res.links.duplicated(["source", "row"]).any(), "a record links to at most one child"
    assert set(res.links["status"]) <= {"auto", "reviewed", "review", "unmatched"}


def test_outputs_written(beppu_processed) -> None:
    p, _, res = beppu_processed
    out = p.processed
    links = pd.read_parquet(out / "links.parquet")
    assert list(links.columns) == ["source", "row", "person_id", "match_probability", "status"]
    assert (out / "linkage_model.json").exists() and (out / "linkage_rates.csv").exists()
    assert (p.internal / "review_queue.xlsx").exists()
    html = (p.reports / "fy2025" / "linkage_match_weights.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "vega" in html, "chart libraries inline: the city network is closed"
    rates = res.rates.set_index("source")
    assert (rates["linkage_rate"] > 0.9).all()


def test_pitfall_settings() -> None:
    s = linkage.model_settings(LinkageParams())
    for c in s["comparisons"]:
        for lvl in c["comparison_levels"]:
            if lvl.get("tf_adjustment_column"):
                assert lvl.get("disable_tf_exact_match_detection") is True, "combined kanji+kana level: own baseline"
    given = next(c for c in s["comparisons"] if c["output_column_name"] == "given_name")
    else_level = given["comparison_levels"][-1]
    assert else_level["fix_m_probability"] and else_level["m_probability"] <= 0.001, "twins: different given name"
    assert all("address" not in " ".join(rule) for rule in linkage.EM_BLOCKS), "EM never trained on address blocks"


def _person(uid, fam, giv, fk, gk, dob, sex="1", addr="野口原3-4-5", hh="h1") -> dict:
    return {"unique_id": uid, "family_name": fam, "given_name": giv, "family_kana": fk, "given_kana": gk,
            "full_name": fam + giv, "full_kana": fk + gk, "birth_date": dob, "birth_ym": dob[:7], "sex": sex,
            "address": addr, "town": "野口原", "school": pd.NA, "district_elem": "別府市立野口小学校", "district_jhs": pd.NA,
            "household_id": hh}


def _small_registry(n: int = 400) -> pd.DataFrame:
    fams = [("佐藤", "サトウ"), ("後藤", "ゴトウ"), ("河野", "カワノ"), ("小野", "オノ"), ("安部", "アベ"), ("工藤", "クドウ"),
            ("田中", "タナカ"), ("高橋", "タカハシ"), ("中村", "ナカムラ"), ("井上", "イノウエ")]
    givs = [("蓮", "レン"), ("陽翔", "ハルト"), ("湊", "ミナト"), ("凛", "リン"), ("結菜", "ユイナ"), ("葵", "アオイ"),
            ("樹", "イツキ"), ("紬", "ツムギ"), ("陽葵", "ヒマリ"), ("悠真", "ユウマ"), ("芽依", "メイ"), ("大翔", "ヒロト")]
    rows = []
    for i in range(n):
        f, g = fams[i % len(fams)], givs[(i * 7) % len(givs)]
        dob = f"{2012 + i % 6}-{1 + i % 12:02d}-{1 + (i * 3) % 28:02d}"
        rows.append(_person(f"p{i}", f[0], g[0], f[1], g[1], dob, sex=str(1 + i % 2), addr=f"野口原{i % 9 + 1}-{i % 20 + 1}-{i % 7 + 1}",
                            hh=f"h{i}"))
    # twins: same surname, address and birth date, different given names
    rows.append(_person("twinA", "髙橋", "陽翔", "タカハシ", "ハルト", "2015-06-01", hh="ht"))
    rows.append(_person("twinB", "髙橋", "陽向", "タカハシ", "ヒナタ", "2015-06-01", hh="ht"))
    return pd.DataFrame(rows)


def _records(reg: pd.DataFrame, drop: list[str]) -> pd.DataFrame:
    rec = reg[~reg["unique_id"].isin(drop)].copy()
    rec["unique_id"] = [str(i + 1) for i in range(len(rec))]
    rec["school"] = "別府市立野口小学校"
    rec["district_elem"] = pd.NA
    rec["household_id"] = pd.NA
    return rec


@pytest.fixture(scope="module")
def small_model():
    reg = _small_registry()
    rec = _records(reg, [])
    lk = LinkageParams(em_max_iterations=50)
    return lk, reg, rec, linkage.train(lk, reg, rec)


def test_twins_never_merged(small_model) -> None:
    p, reg, _, tr = small_model
    # only twin A has a school record: it must not be linked to twin B, and vice versa
    only_a = _records(reg[reg["unique_id"] == "twinA"], [])
    pairs = linkage.predict(p, tr.model, reg, only_a, 0.01)
    best = pairs.sort_values("match_probability", ascending=False).iloc[0]
    assert best["unique_id_l"] == "twinA"
    to_b = pairs[pairs["unique_id_l"] == "twinB"]["match_probability"]
    assert to_b.empty or to_b.max() < 0.5, "a different given name weighs heavily against the twin"
    # twin B has a school record but is missing from the registry: the record must not link to twin A
    atena = pd.Series({u: f"{i:010d}" for i, u in enumerate(reg["unique_id"])})
    reg_without_b = reg[reg["unique_id"] != "twinB"]
    only_b = _records(reg[reg["unique_id"] == "twinB"], [])
    pairs_b = linkage.predict(p, tr.model, reg_without_b, only_b, 0.0)
    links, review = linkage.assign(pairs_b, only_b, "gakko/shusseki.csv", 0.95, 0.5,
                                   pd.DataFrame(columns=["source", "row", "atena_no", "判定"]), atena)
    assert links["person_id"].isna().all() and links["status"].iloc[0] == "unmatched"
    assert review.empty or "twinA" not in set(review["unique_id_l"])


def test_em_cap_is_reported_not_called_convergence(small_model, caplog) -> None:
    p, reg, rec, _ = small_model
    with caplog.at_level(logging.WARNING, logger="mimamori_lib.linkage"):
        tr = linkage.train(LinkageParams(em_max_iterations=1), reg, rec)
    assert not tr.converged and tr.em_iterations[0] == 1
    assert "収束していません" in caplog.text


def test_review_decisions_applied(small_model) -> None:
    p, reg, rec, tr = small_model
    one = rec[rec["unique_id"] == "1"].copy()
    one["family_name"], one["full_name"] = "Z", "Z" + one["given_name"]
    one["birth_date"], one["birth_ym"], one["address"], one["sex"] = "2000-01-01", "2000-01", pd.NA, pd.NA
    pairs = linkage.predict(p, tr.model, reg, one, 0.0)
    atena = pd.Series({uid: f"{i:010d}" for i, uid in enumerate(reg["unique_id"])})
    links, _ = linkage.assign(pairs, one, "gakko/shusseki.csv", 0.95, 0.5, pd.DataFrame(columns=["source", "row", "atena_no", "判定"]), atena)
    assert links["status"].iloc[0] in ("unmatched", "review")
    target = pairs.sort_values("match_probability", ascending=False)["unique_id_l"].iloc[0]
    yes = pd.DataFrame({"source": ["gakko/shusseki.csv"], "row": [1], "atena_no": [atena[target]], "判定": ["一致"]})
    links, _ = linkage.assign(pairs, one, "gakko/shusseki.csv", 0.95, 0.5, yes, atena)
    assert links["status"].iloc[0] == "reviewed" and links["person_id"].iloc[0] == target
    no = yes.assign(判定="不一致")
    links, review = linkage.assign(pairs, one, "gakko/shusseki.csv", 0.95, 0.0, no, atena)
    assert pd.isna(links["person_id"].iloc[0]) or links["person_id"].iloc[0] != target
    assert review.empty or target not in set(review["unique_id_l"]), "a rejected pair is not offered again"


def test_school_files_inherit_the_attendance_link() -> None:
    row = {"school": "A小", "grade": "小3", "family_name": "佐藤", "given_name": "蓮", "birth_date": T("2016-05-05")}
    ident = pd.DataFrame([
        {"source": "gakko/shusseki.csv", "row": 1, **row},
        {"source": "gakko/shusseki.csv", "row": 2, **row, "given_name": "凛"},
        {"source": "gakko/hokenshitsu.csv", "row": 7, **row},
        {"source": "gakko/hokenshitsu.csv", "row": 8, **row, "grade": "小4"},
    ])
    base = pd.DataFrame({"source": "gakko/shusseki.csv", "row": [1, 2], "person_id": ["p1", "p2"],
                         "match_probability": [0.999, 0.6], "status": ["auto", "review"]})
    got = linkage.inherit_links(ident, "gakko/shusseki.csv", "gakko/hokenshitsu.csv", base)
    assert list(got["row"]) == [7] and list(got["person_id"]) == ["p1"] and list(got["status"]) == ["auto"]


T = pd.Timestamp
