"""The support meeting's list: one row per extracted child (Excel and CSV), with the meeting's columns as empty
drop-down columns, so staff fill it in at the meeting and save it back (``shien/kettei.xlsx``). It names children, so
it goes only to ``reports/internal/<fy>/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..catalogue.tables import read_people
from ..catalogue.vocabulary import DECISION_COLUMNS, DIFFICULTY_TYPES, NEEDS, SUPPORT_CONTENT
from ..judgement.scoring import GROUP_LABEL
from ..output.workbook import PRIVATE_NOTE, PrintedAs, drop_down, table_sheet, with_notes
from ..params import Params
from ..records import ledger
from ..records.ledger import Paper
from ..records.sharing import pupils
from ..text.gaiji import displayable


def school_of(p: Params, person_ids) -> pd.Series:
    """学校・学年 of each linked pupil (from the attendance file)."""
    m = pupils(p, person_ids)
    return m["school_short"] + " " + m["grade"]


def extraction_table(p: Params, scores: pd.DataFrame, ev: pd.DataFrame, catalogue: dict,
                     extra: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """The extraction list: one row per extracted child, identity, counts, rank, matched items in words, and
    ``extra`` columns (per child pseudonym: e.g. pending school records, the ranking's reasons)."""
    x = scores[scores["group"] != ""].copy()
    reg = read_people(p, person_ids=x["person_id"]).set_index("person_id")
    order = {"basic": 0, "other": 1, "tier": 2}
    x = x.assign(_g=x["group"].map(order)).sort_values(["_g", "rank", "extract_id"]).drop(columns="_g")
    matched = ev[(ev["kind"] == "match").to_numpy() & isin(ev["person_id"], x["person_id"])].drop_duplicates(["item", "person_id"])
    words = matched.assign(w=matched["item"] + " " + matched["item"].map(lambda i: catalogue[i]["label"])) \
        .sort_values("item").groupby("person_id")["w"].agg("、".join)
    school = school_of(p, x["person_id"])
    r = reg.reindex(x["person_id"])
    out = pd.DataFrame({
        "抽出ID": x["extract_id"].to_numpy(), "宛名番号": r["atena_no"].to_numpy(), "氏名": r["name"].to_numpy(),
        "ふりがな": r["name_kana"].to_numpy(), "生年月日": pd.to_datetime(r["birth_date"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "年齢": x["age"].to_numpy(), "学校・学年": x["person_id"].map(school).to_numpy(),
        "グループ": x["group"].map(GROUP_LABEL).to_numpy(), "基本項目数": x["basic_count"].to_numpy(),
        "その他項目数": x["other_count"].to_numpy(), "順位": x["rank"].to_numpy(),
        "同順位": x["tied"].map({True: "○", False: ""}).to_numpy(),
        "支援の記録": x["supported"].map({True: "あり", False: ""}).to_numpy(),
        "該当項目": x["person_id"].map(words).fillna("").to_numpy(),
    })
    for c in ("氏名", "ふりがな"):
        out[c] = out[c].map(displayable)
    for name, values in (extra or {}).items():
        out[name] = x["person_id"].map(values).fillna("").to_numpy()
    for c in DECISION_COLUMNS:
        out[c] = ""
    return out


def write_extraction_list(p: Params, table: pd.DataFrame, person_ids: list[str]) -> tuple[Path, Path]:
    """``extraction.xlsx`` (with drop-down lists for the meeting's columns) and ``extraction.csv`` — papers for the
    meeting's members, recorded in the 提供記録 (``person_ids``: the children listed)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    csv = datasets.write(p, "extraction_csv", table)
    wb, ws, cols, n = table_sheet(table, "抽出リスト")
    lists = {"既支援": ["1", "0"], "支援要否": list(NEEDS), "困難の類型": list(DIFFICULTY_TYPES), "支援内容": list(SUPPORT_CONTENT),
             "支援開始日": None, "判断日": None}
    for c, values in lists.items():
        drop_down(ws, cols[c], values, n + 50)
    head = PatternFill("solid", fgColor="DDDDDD")
    fill = PatternFill("solid", fgColor="FFF7D6")
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = fill if cell.value in DECISION_COLUMNS else head
    for c, width in {"氏名": 14, "ふりがな": 18, "学校・学年": 18, "該当項目": 60, "困難の類型": 16, "支援内容": 12}.items():
        ws.column_dimensions[get_column_letter(cols[c])].width = width
    for row in ws.iter_rows(min_row=2):
        row[cols["該当項目"] - 1].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "D2"
    xlsx = datasets.write(p, "extraction_xlsx", with_notes(wb, ["支援担当者会議の抽出リストです。黄色の列を会議で記入し、このファイルを Excel の形式のまま",
                                f"{datasets.saved_place(p, 'decisions', '.xlsx')} として保存してください (ほかの列はそのまま"
                                f"残してかまいません。CSV で保存するときは {datasets.saved_target(p, 'decisions', '.csv').name})。",
                         "既支援: 1 = 抽出前から支援につながっていた / 0 = いなかった。困難の類型は複数のとき ・ で区切ります。",
                         PRIVATE_NOTE], PrintedAs("支援担当者会議 抽出リスト", to=p.records.meeting, fy=p.fiscal_year,
                                                  contact=p.sharing.contact)))
    items = [c for c in table.columns if c not in DECISION_COLUMNS]
    ledger.record(p, [Paper("抽出リスト", f, p.records.meeting, p.records.meeting_basis, person_ids, items,
                            list(load_registry(p)), table) for f in (xlsx, csv)])
    return xlsx, csv


