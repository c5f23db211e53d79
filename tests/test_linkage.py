"""名寄せ: accuracy on the synthetic city, Splink pitfalls, twins (even one kana apart), foreign names in another
script or order, recent moves, one-to-one per source, inheritance, and staff decisions."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib import linkage
from mimamori_lib.catalogue.tables import read_identity
from mimamori_lib.linkage.inputs import COLUMNS
from mimamori_lib.linkage.model import duckdb_api, predict_with
from mimamori_lib.params import Linkage as LinkageParams
from mimamori_lib.synth.evaluate import linkage_accuracy, linkage_breakdown

SRC = "gakko/shusseki.csv"
NO_DECISIONS = pd.DataFrame(columns=["source", "row", "atena_no", "判定"])
T = pd.Timestamp
_WORK = Path()


@pytest.fixture(scope="module", autouse=True)
def _work_folder(tmp_path_factory) -> None:
    """The private folder DuckDB may spill to (a step gives it one under the out dir's restricted folder)."""
    global _WORK
    _WORK = tmp_path_factory.mktemp("duckdb")


def test_accuracy_at_beppu_scale(beppu: Path, beppu_processed) -> None:
    p, _, res = beppu_processed
    truth = beppu / "synthetic_truth" / "fy2025"
    acc = linkage_accuracy(res.links, read_identity(p), truth)
    assert acc["precision"] >= 0.9995, acc
    assert acc["recall"] >= 0.997, acc
    assert acc["merged_twins"] == 0, acc
    assert acc["absent_linked"] <= 0.005 * acc["absent_records"], "children absent from the registry stay unmatched"
    assert acc["in_review"] <= 0.005 * acc["records"], "the review queue is at most 0.5% of records"
    cases = linkage_breakdown(res.links, read_identity(p), truth, p.reference_date).set_index("case")
    assert cases.loc["moved within the city (last 12 months)", "recall"] >= 0.97, cases
    assert cases.loc["foreign resident", "recall"] >= 0.97, cases
    assert cases.loc["gakko/shugaku_enjo.csv", "recall"] >= 0.99, cases


def test_one_to_one_per_source(beppu_processed) -> None:
    _, _, res = beppu_processed
    linked = res.links[res.links["person_id"].notna()]
    assert not linked.duplicated(["source", "person_id"]).any(), "a child links to at most one record of a source"
    assert not res.links.duplicated(["source", "row"]).any(), "a record links to at most one child"
    assert set(res.links["status"]) <= {"auto", "reviewed", "review", "unmatched"}
    waiting = res.links[res.links["status"] == "review"]
    assert (waiting["reason"] != "").all(), "every record in review says why"


def test_outputs_written(beppu_processed) -> None:
    p, _, res = beppu_processed
    out = p.processed
    links = pd.read_parquet(out / "links.parquet")
    assert list(links.columns) == ["source", "row", "person_id", "match_probability", "status", "reason"]
    assert (out / "linkage_model.json").exists() and (out / "linkage_rates.csv").exists()
    model = json.loads((out / "linkage_model.json").read_text(encoding="utf-8"))
    assert "linker_uid" not in model and model["comparisons"], "a random id per run would re-run every later step"
    assert (out / "review_pairs.parquet").exists(), "30_extract builds the review queue from these pairs"
    linkage.write_queue(p)
    assert (p.internal / "review_queue.xlsx").exists()
    html = (p.reports / "fy2025" / "linkage_match_weights.html").read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "vega" in html, "chart libraries inline: the city network is closed"
    rates = res.rates.set_index("source")
    assert (rates["linkage_rate"] > 0.9).all()
    w = linkage.match_weights(res.training.model)
    assert {"異なる (1 年以内に転居: 旧住所の可能性)", "姓名の順序違い", "申請した保護者と同じ世帯"} <= set(w["水準"])


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


# --- hand-made cases ---------------------------------------------------------------------------------

def _person(uid, fam, giv, fk, gk, dob, sex="1", addr="野口原3-4-5", hh="h1", moved="0") -> dict:
    return {"unique_id": uid, "family_name": fam, "given_name": giv, "family_kana": fk, "given_kana": gk,
            "full_name": fam + giv, "full_kana": fk + gk, "name_tokens": " ".join(sorted([fam, giv])),
            "kana_tokens": " ".join(sorted([fk, gk])), "given_is_kanji": "1" if any("\u4e00" <= c <= "\u9fff" for c in giv) else "0",
            "birth_date": dob, "birth_ym": dob[:7], "sex": sex, "address": addr, "block": addr.split("-")[0],
            "town": "野口原", "school": pd.NA, "district_elem": "別府市立野口小学校", "district_jhs": pd.NA,
            "household_id": hh, "moved_recently": moved}


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
    # twins: same surname, address and birth date, different given names (one pair a whole name apart, one pair
    # one kana apart in the reading)
    rows.append(_person("twinA", "髙橋", "陽翔", "タカハシ", "ハルト", "2015-06-01", hh="ht"))
    rows.append(_person("twinB", "髙橋", "陽向", "タカハシ", "ヒナタ", "2015-06-01", hh="ht"))
    rows.append(_person("twinC", "工藤", "蓮", "クドウ", "レン", "2016-02-02", hh="hu"))
    rows.append(_person("twinD", "工藤", "蘭", "クドウ", "ラン", "2016-02-02", hh="hu"))
    # a foreign resident registered in romaji; a child who moved within the city this year
    rows.append(_person("fgn", "NGUYEN", "VANAN", "グエン", "バンアン", "2014-04-04", hh="hf"))
    rows[-1]["name_tokens"], rows[-1]["kana_tokens"] = "AN NGUYEN VAN", "アン グエン バン"
    rows.append(_person("mover", "河野", "湊", "カワノ", "ミナト", "2013-03-03", addr="野口原9-9-9", hh="hm", moved="1"))
    return pd.DataFrame(rows)


def _records(reg: pd.DataFrame, ids: list[str] | None = None) -> pd.DataFrame:
    rec = reg if ids is None else reg.set_index("unique_id").loc[ids].reset_index()
    rec = rec.copy()
    rec["unique_id"] = [f"0:{i + 1}" for i in range(len(rec))]
    rec["source"], rec["row"] = SRC, range(1, len(rec) + 1)
    rec["school"], rec["district_elem"], rec["household_id"], rec["moved_recently"] = "別府市立野口小学校", pd.NA, pd.NA, pd.NA
    return rec


@pytest.fixture(scope="module")
def model():
    reg = _small_registry()
    rec = _records(reg[~reg["unique_id"].isin(["fgn", "mover"])])
    lk = LinkageParams(em_max_iterations=50)
    with duckdb_api(lk, _WORK) as api:
        training, _ = linkage.train(lk, reg, rec, api)
    atena = pd.Series({u: f"{i:010d}" for i, u in enumerate(reg["unique_id"])})
    return lk, reg, training, atena


def _link(model, registry: pd.DataFrame, records: pd.DataFrame, decisions=NO_DECISIONS, lower: float = 0.5):
    lk, _, training, atena = model
    pairs = predict_with(lk, training.model, registry, records, 0.0, _WORK)
    links, review = linkage.assign(pairs[pairs["match_probability"] >= lower] if lower else pairs, records, 0.95, lower,
                                   decisions, atena)
    return pairs, links.set_index("row"), review


def test_twins_never_merged(model) -> None:
    _, reg, _, _ = model
    for present, absent in (("twinA", "twinB"), ("twinC", "twinD")):
        # only one twin has a school record: it links to that twin, never to the other
        pairs, links, _ = _link(model, reg, _records(reg, [present]))
        assert links.loc[1, "person_id"] == present, (present, links)
        # the other twin's record, with that twin missing from the registry: no link to the sibling
        rec = _records(reg, [absent])
        pairs, links, review = _link(model, reg[reg["unique_id"] != absent], rec, lower=0.0)
        assert pd.isna(links.loc[1, "person_id"]) and links.loc[1, "status"] in ("unmatched", "review"), (absent, links)
        assert present not in set(links["person_id"].dropna()), "twins one kana apart (レン/ラン) are not one child"


def test_foreign_names_in_another_script_or_order(model) -> None:
    _, reg, _, _ = model
    base = _records(reg, ["fgn"])
    katakana = base.assign(family_name="グエン", given_name="バンアン", full_name="グエンバンアン", name_tokens="グエン バン アン")
    swapped = base.assign(family_name="VAN", given_name="ANNGUYEN", full_name="VANANNGUYEN", family_kana="バン",
                          given_kana="アングエン", full_kana="バンアングエン", name_tokens="AN NGUYEN VAN",
                          kana_tokens="アン グエン バン")
    for rec in (katakana, swapped):
        _, links, _ = _link(model, reg, rec)
        assert links.loc[1, "person_id"] == "fgn" and links.loc[1, "status"] == "auto", rec[COLUMNS[:10]]


def test_the_comparison_columns_of_a_record() -> None:
    """What 名寄せ compares, built from identity rows: variation selectors folded, a name's parts in sorted order
    (upper-cased), the street without the building, its block and town, missing stays missing."""
    from mimamori_lib.linkage.inputs import _common

    ident = pd.DataFrame({
        "family_name": ["葛\U000E0100西", "NGUYEN", None], "given_name": ["陽翔", "VAN AN", None],
        "family_kana": ["カサイ", "グエン", None], "given_kana": ["ハルト", "バン アン", None],
        "name": ["葛\U000E0100西 陽翔", "nguyen van an", None], "name_kana": ["カサイ ハルト", "グエン バン アン", None],
        "birth_date": [T("2015-06-01"), T("2014-04-04"), pd.NaT], "sex": ["1", "2", None],
        "address": ["野口原3-4-5 別府ハイツ101", "南町12", None],
    }, dtype=object).assign(birth_date=lambda d: pd.to_datetime(d["birth_date"]))
    got = _common(ident).astype(object).where(lambda d: d.notna(), None)
    assert got.loc[0, "family_name"] == "葛西" and got.loc[0, "full_name"] == "葛西陽翔"
    assert got.loc[0, "name_tokens"] == "葛西 陽翔" and got.loc[0, "given_is_kanji"] == "1"
    assert got.loc[1, "name_tokens"] == "AN NGUYEN VAN" and got.loc[1, "kana_tokens"] == "アン グエン バン"
    assert got.loc[1, "given_is_kanji"] == "0"
    assert (got.loc[0, "address"], got.loc[0, "block"], got.loc[0, "town"]) == ("野口原3-4-5", "野口原3", "野口原")
    assert (got.loc[1, "address"], got.loc[1, "block"], got.loc[1, "town"]) == ("南町12", "南町12", "南町")
    assert got.loc[0, "birth_date"] == "2015-06-01" and got.loc[0, "birth_ym"] == "2015-06"
    assert got.loc[2].drop("given_is_kanji").isna().all() and got.loc[2, "given_is_kanji"] == "0"


def test_an_old_address_after_a_recent_move_still_links(model) -> None:
    _, reg, _, _ = model
    rec = _records(reg, ["mover"]).assign(address="北浜1-2-3", block="北浜1", town="北浜")
    pairs, links, _ = _link(model, reg, rec, lower=0.0)
    assert pairs.sort_values("match_weight").iloc[-1]["unique_id_l"] == "mover" and links.loc[1, "status"] != "unmatched"
    stayed = reg.assign(moved_recently=lambda d: d["moved_recently"].where(d["unique_id"] != "mover", "0"))
    pairs, _, _ = _link(model, stayed, rec)
    moved = _link(model, reg, rec)[0]
    w = lambda x: x.loc[x["unique_id_l"] == "mover", "match_weight"].max()  # noqa: E731
    assert w(moved) > w(pairs) + 1, "a recent move makes the old address expected, not evidence against"


def test_a_recent_move_is_weighed_once(model) -> None:
    """A school outside the new district after a recent move says nothing the address has not said already: the
    pair weighs what it weighs with no school at all (the move was counted against a mover twice: at 500,000
    children, 13% of recent movers' records waited for review or stayed unlinked)."""
    _, reg, _, _ = model
    rec = _records(reg, ["mover"]).assign(address="北浜1-2-3", block="北浜1", town="北浜")

    def weight(school) -> float:
        pairs = _link(model, reg, rec.assign(school=school), lower=0.0)[0]
        return float(pairs.loc[pairs["unique_id_l"] == "mover", "match_weight"].max())

    assert weight("別府市立北小学校") == pytest.approx(weight(pd.NA))


def test_one_to_one_losers_wait_for_review(model) -> None:
    _, reg, _, _ = model
    rec = _records(reg, ["p5", "p5"])  # two records of one file claim the same child
    _, links, review = _link(model, reg, rec)
    assert set(links["status"]) == {"review"} and links["person_id"].isna().all(), "a tie is left to staff"
    assert set(review["row"]) == {1, 2}, "both records, with their candidate, are in the queue"


def test_the_review_queue_does_not_depend_on_the_order_of_the_pairs(model) -> None:
    """Equal candidates of a record (a child registered twice, field for field) wait in the order of 宛名番号,
    whatever order the database returned the pairs in: the same exports give the same queue."""
    lk, reg, _, atena = model
    twice = pd.concat([reg, reg[reg["unique_id"] == "p5"].assign(unique_id="p5b")], ignore_index=True)
    atena = pd.concat([atena, pd.Series({"p5b": "9999999999"})])
    rec = _records(reg, ["p5"])
    pairs = predict_with(lk, model[2].model, twice, rec, 0.0, _WORK)
    queues = [linkage.assign(p, rec, 0.95, 0.5, NO_DECISIONS, atena)[1].reset_index(drop=True)
              for p in (pairs, pairs.iloc[::-1], pairs.sample(frac=1, random_state=3))]
    assert len(queues[0]) >= 2 and list(queues[0]["unique_id_l"][:2]) == ["p5", "p5b"]
    for q in queues[1:]:
        pd.testing.assert_frame_equal(q, queues[0])


def test_a_namesake_born_in_another_year_on_another_day_is_no_candidate(model) -> None:
    """A whole name in common pairs a record with a registry child only with the birth year, or the birth month and
    day, in common too: a date with one field wrong is still scored, a namesake born in another year on another day
    is not (at 500,000 children those were 50 million pairs, none of them a link)."""
    lk, reg, training, _ = model
    for born, candidate in (("2013-11-30", True), ("2016-02-04", True), ("2016-11-30", False)):  # p1: 2013-02-04
        rec = _records(reg, ["p1"]).assign(birth_date=born, birth_ym=born[:7])
        pairs = predict_with(lk, training.model, reg, rec, 0.0, _WORK)
        assert ("p1" in set(pairs["unique_id_l"])) == candidate, born
    # staff who checked with the school link it all the same: a row added to the review queue with 一致
    rec = pd.concat([_records(reg, ["p1"]).assign(birth_date="2016-11-30", birth_ym="2016-11"), _records(reg, ["p5"])],
                    ignore_index=True).assign(unique_id=["0:1", "0:2"], row=[1, 2])
    yes = pd.DataFrame({"source": [SRC], "row": [1], "atena_no": [model[3]["p1"]], "判定": ["一致"]})
    _, links, _ = _link(model, reg, rec, yes, lower=0.0)
    assert links.loc[1, "status"] == "reviewed" and links.loc[1, "person_id"] == "p1"


def test_em_cap_is_reported_not_called_convergence(model, caplog) -> None:
    _, reg, _, _ = model
    with caplog.at_level(logging.WARNING, logger="mimamori_lib.linkage"), duckdb_api(LinkageParams(), _WORK) as api:
        tr, _ = linkage.train(LinkageParams(em_max_iterations=1), reg, _records(reg), api)
    assert not tr.converged and tr.em_iterations[0] == 1
    assert "収束していません" in caplog.text


def test_staff_decisions_override_the_model(model) -> None:
    lk, reg, _, atena = model
    # another family name and another birth month and day (p1 was born 2013-02-04): the model does not link it
    one = _records(reg, ["p1"]).assign(family_name="Z", full_name="Z", birth_date="2013-11-30", birth_ym="2013-11",
                                       address=pd.NA, sex=pd.NA)
    pairs, links, _ = _link(model, reg, one, lower=0.0)
    assert links.loc[1, "status"] in ("unmatched", "review")
    target = pairs.sort_values("match_weight", ascending=False)["unique_id_l"].iloc[0]
    yes = pd.DataFrame({"source": [SRC], "row": [1], "atena_no": [atena[target]], "判定": ["一致"]})
    _, links, _ = _link(model, reg, one, yes, lower=0.0)
    assert links.loc[1, "status"] == "reviewed" and links.loc[1, "person_id"] == target
    _, links, review = _link(model, reg, one, yes.assign(判定="不一致"), lower=0.0)
    assert pd.isna(links.loc[1, "person_id"]) or links.loc[1, "person_id"] != target
    assert review.empty or target not in set(review["unique_id_l"]), "a rejected pair is not offered again"


def test_school_files_inherit_the_attendance_outcome() -> None:
    row = {"school": "A小", "grade": "小3", "family_name": "佐藤", "given_name": "蓮", "birth_date": T("2016-05-05")}
    ident = pd.DataFrame([
        {"source": SRC, "row": 1, **row},
        {"source": SRC, "row": 2, **row, "given_name": "凛"},
        {"source": "gakko/hokenshitsu.csv", "row": 7, **row},
        {"source": "gakko/hokenshitsu.csv", "row": 8, **row, "grade": "小4"},
        {"source": "gakko/hokenshitsu.csv", "row": 9, **row, "given_name": "凛"},
    ])
    base = pd.DataFrame({"source": SRC, "row": [1, 2], "person_id": ["p1", pd.NA],
                         "match_probability": [0.999, 0.6], "status": ["auto", "review"], "reason": ["", "x"]})
    matches = linkage.exact_matches(ident, SRC, "gakko/hokenshitsu.csv")
    got = linkage.inherit_links(matches, "gakko/hokenshitsu.csv", base).set_index("row")
    assert list(got.index) == [7, 9] and got.loc[7, "person_id"] == "p1" and got.loc[7, "status"] == "auto"
    assert got.loc[9, "status"] == "review", "a copy of a record that waits for staff waits with it"


def test_the_same_city_with_two_keys_links_the_same(small_city: Path, tmp_path: Path, monkeypatch) -> None:
    """Issue 37: the training samples are drawn over the exports' own identities, never the keyed pseudonym, so a
    city that changes its key gets the same links and the same review queue (as 宛名番号), not another sample."""
    from mimamori_lib import ingest
    from mimamori_lib.catalogue.tables import read_people
    from mimamori_lib.params import load_params
    from mimamori_lib.privacy.pseudonym import new_key

    got = []
    for name in ("a", "b"):
        key = new_key(tmp_path / f"{name}.key")
        monkeypatch.setenv("MIMAMORI_KEY_FILE", str(key))
        p = load_params("params/fy2025.yaml", {"raw_dir": str(small_city / "raw"), "out_dir": str(tmp_path / name)})
        ingest.run(p)
        res = linkage.run(p)
        atena = read_people(p, columns=["person_id", "atena_no"]).set_index("person_id")["atena_no"]
        links = res.links.assign(atena=res.links["person_id"].map(atena))[["source", "row", "status", "atena"]]
        review = res.review.assign(atena=res.review["unique_id_l"].map(atena))
        got.append((links.sort_values(["source", "row"]).reset_index(drop=True),
                    sorted(zip(review["source"], review["row"].astype(int), review["atena"], strict=True)),
                    json.loads((tmp_path / name / "processed" / "fy2025" / "linkage_meta.json").read_text())))
    (la, ra, ma), (lb, rb, mb) = got
    pd.testing.assert_frame_equal(la, lb)
    assert ra == rb
    assert ma["sampling"] == mb["sampling"] and ma["sampling"]["seed"] == 1 and "pseudonym" in ma["sampling"]["over"]
    model = [(tmp_path / name / "processed" / "fy2025" / "linkage_model.json").read_bytes() for name in ("a", "b")]
    assert model[0] == model[1], "the same exports train the same model, to its last digit"


def test_a_models_last_digits_do_not_change_it() -> None:
    """EM sums over pairs in the order DuckDB's threads finish: two runs may differ in the 16th digit of an m. The
    model is kept to 10 significant digits, so they give one model (and the steps after 名寄せ are not re-run)."""
    from mimamori_lib.linkage.model import rounded

    def model(m: float) -> dict:
        return {"probability_two_random_records_match": 0.000123456789012345, "comparisons": [{"comparison_levels": [
            {"sql_condition": "null", "is_null_level": True},
            {"sql_condition": "exact", "m_probability": m, "u_probability": 0.0012345678901234567}]}]}

    a, b = model(0.006787385360770634), model(0.006787385360770633)
    assert a != b and rounded(a) == rounded(b)
    assert rounded(a)["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.006787385361
    assert a["comparisons"][0]["comparison_levels"][1]["m_probability"] == 0.006787385360770634, "the input is kept"
