"""The 名寄せ review loop end to end: staff fill in the queue they were given and save it as .xlsx or as CSV with
the headers they see; the next run validates each row, applies the valid ones and reports the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from mimamori_lib import cli, linkage
from mimamori_lib.catalogue.registry import registry_path
from mimamori_lib.catalogue.tables import read_identity
from mimamori_lib.params import load_params


@pytest.fixture
def city(smoke_run: Path, tmp_path: Path):
    for d in ("raw", "synthetic_truth", "out"):
        shutil.copytree(smoke_run / d, tmp_path / d)
    p = load_params("params/fy2025.yaml", {"raw_dir": str(tmp_path / "raw"), "out_dir": str(tmp_path / "out")})
    return tmp_path, p


def _atena(p, person_id: str) -> str:
    ident = read_identity(p)
    reg = ident[ident["source"] == registry_path(p)].drop_duplicates("person_id").set_index("person_id")
    return reg.loc[person_id, "atena_no"]


def test_the_queue_saved_as_xlsx_is_applied(city) -> None:
    root, p = city
    assert cli.main(["synth", "review", "--fy", "2025", "--out", str(root / "raw"), "--out-dir", str(root / "out")]) == 0
    saved = root / "raw" / "fy2025" / "linkage" / "review_queue.xlsx"
    ws = load_workbook(saved)["要確認"]
    rows = list(ws.iter_rows(values_only=True))
    q = pd.DataFrame(rows[1:], columns=rows[0]).dropna(subset=["ファイル"])
    res = linkage.run(p, write=False)
    yes = q[q["判定"] == "一致"]
    got = res.links.merge(yes.rename(columns={"ファイル": "source", "行": "row"})[["source", "row"]], on=["source", "row"])
    assert len(got) == len(yes) and (got["status"] == "reviewed").all()
    assert (res.decisions["outcome"] == "適用").sum() == len(q)
    assert (res.links["status"] == "review").sum() <= len(q) - len(yes) + 2, "decided pairs leave the queue"


def test_csv_with_the_headers_staff_see_and_every_kind_of_row(city) -> None:
    root, p = city
    links = pd.read_parquet(p.processed / "links.parquet")
    auto = links[links["status"] == "auto"].iloc[:3]
    a0 = _atena(p, auto.iloc[0]["person_id"])
    a1 = _atena(p, auto.iloc[1]["person_id"])
    rows = [
        ["ファイル", "行", "宛名番号", "一致確率", "判定", "メモ"],
        [auto.iloc[0]["source"], str(auto.iloc[0]["row"]), a0.lstrip("0"), "0.99", "不一致", "zeros lost by Excel"],
        [auto.iloc[1]["source"], str(auto.iloc[1]["row"]), a1, "0.99", "一致", ""],
        [auto.iloc[2]["source"], str(auto.iloc[2]["row"]), a1, "0.99", "", "not decided yet"],
        ["gakko/shusseki.csv", "999999", a1, "0.5", "一致", "unknown row"],
        [auto.iloc[2]["source"], str(auto.iloc[2]["row"]), "0000000001", "0.5", "一致", "not on the registry"],
        [auto.iloc[2]["source"], str(auto.iloc[2]["row"]), a1, "0.5", "たぶん", "bad 判定"],
    ]
    f = root / "raw" / "fy2025" / "linkage" / "確認結果.csv"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("\r\n".join(",".join(r) for r in rows) + "\r\n", encoding="utf-8-sig")
    res = linkage.run(p, write=True)
    rep = res.decisions.set_index("line")
    assert rep.loc[2, "outcome"] == "適用" and rep.loc[3, "outcome"] == "適用", "lost zeros are restored"
    assert 4 not in rep.index, "a blank 判定 is not decided yet"
    assert rep.loc[5, "reason"] == "今年度のこのファイルにない行です"
    assert rep.loc[6, "reason"] == "住民基本台帳にない宛名番号です"
    assert rep.loc[7, "reason"] == "判定は 一致 か 不一致 です"
    lk = res.links.set_index(["source", "row"])
    first = lk.loc[(auto.iloc[0]["source"], int(auto.iloc[0]["row"]))]
    assert pd.isna(first["person_id"]) or first["person_id"] != auto.iloc[0]["person_id"], "不一致 is applied"
    assert lk.loc[(auto.iloc[1]["source"], int(auto.iloc[1]["row"])), "status"] == "reviewed"
    report = pd.read_csv(p.processed / "review_decisions_report.csv", encoding="utf-8-sig")
    assert set(report["outcome"]) == {"適用", "拒否"} and "氏名" not in report.columns
    from mimamori_lib.linkage import decisions_summary

    shown = decisions_summary(res)      # what 20_link's report shows: counts and line numbers, no names
    assert shown["行数"].sum() == 5 and "2・3" in set(shown["行番号"])
