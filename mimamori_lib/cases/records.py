"""事例記録: the template staff fill in for each child judged 支援要 (``jirei_template.xlsx``), and the records read
back from ``shien/jirei.csv``.

Rows are validated like the meeting's decisions: an unknown 抽出ID, an 抽出ID of a child not judged 支援要, a second
row for one child, a 公開可否 other than 可/否, an unreadable 記録日 or a row with no narrative at all is set aside in
``cases_quarantine.csv`` with its row number and reason; nothing is dropped silently. The texts themselves stay in
the restricted folder and the internal reports.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..catalogue.readback import read_saved, saved_file
from ..catalogue.registry import load_registry
from ..catalogue.vocabulary import NEED_YES, QUARANTINE_COLUMNS
from ..output.workbook import PRIVATE_NOTE, PrintedAs, drop_down, table_sheet, with_notes
from ..params import Params
from ..records import ledger
from ..records.ledger import Paper
from ..rights.stops import stopped
from ..text.normalize import nfkc, parse_date
from .deidentify import NARRATIVE

log = logging.getLogger(__name__)
CASE_STAFF = "事例記録を担当する職員"
REQUIRED = ["抽出ID", *NARRATIVE, "公開可否"]
OPTIONAL = ["記録日"]
PUBLIC = {"可", "否"}
CONTEXT = ["抽出ID", "該当項目", "困難の類型", "支援内容", "支援開始日"]


def template_rows(dec: pd.DataFrame, scores: pd.DataFrame, catalogue: dict) -> pd.DataFrame:
    """One row per child judged 支援要: what staff need to recall the case, and the spec's columns to fill in."""
    need = dec[dec["support_needed"] == NEED_YES].sort_values("extract_id")
    s = scores.set_index("person_id")
    items = [i for i in catalogue if i in s]

    def matched(pid: str) -> str:
        r = s.loc[pid]
        return "、".join(f"{i} {catalogue[i]['label']}" for i in items if r[i] > 0)

    t = pd.DataFrame({"抽出ID": need["extract_id"].to_numpy(), "該当項目": [matched(x) for x in need["person_id"]],
                      "困難の類型": need["difficulty_types"].to_numpy(), "支援内容": need["support_content"].to_numpy(),
                      "支援開始日": pd.to_datetime(need["support_started_on"]).dt.strftime("%Y-%m-%d").fillna("").to_numpy()})
    for c in (*NARRATIVE, "公開可否", *OPTIONAL):
        t[c] = ""
    return t


def write_template(p: Params, rows: pd.DataFrame, person_of: dict[str, str]) -> Path:
    """``reports/internal/<fy>/jirei_template.xlsx`` with a drop-down for 公開可否 and an explanation sheet, recorded in
    the 提供記録 (``person_of``: 抽出ID → the child's pseudonym)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb, ws, cols, n = table_sheet(rows, "事例記録")
    drop_down(ws, cols["公開可否"], ["可", "否"], n + 20)
    drop_down(ws, cols["記録日"], None, n + 20)
    fill, head = PatternFill("solid", fgColor="FFF7D6"), PatternFill("solid", fgColor="DDDDDD")
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = head if c.value in CONTEXT else fill
    for c, w in {"該当項目": 40, **dict.fromkeys(NARRATIVE, 45)}.items():
        ws.column_dimensions[get_column_letter(cols[c])].width = w
    for r in ws.iter_rows(min_row=2):
        for c in ("該当項目", *NARRATIVE):
            r[cols[c] - 1].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "B2"
    f = datasets.write(p, "case_template", with_notes(wb, ["支援要と判断したこどもの事例記録です。黄色の列を記入し、このファイルを Excel の形式のまま",
                         f"{datasets.saved_place(p, 'cases', '.xlsx')} として保存してください (灰色の列はそのまま残して"
                         f"かまいません。CSV で保存するときは {datasets.saved_target(p, 'cases', '.csv').name})。",
                         "判定前の状況: リストの前に分かっていたこと / 確認できた状況: 情報収集と支援で分かったこと /",
                         "状況の変化: こどもと家庭に起きた変化 / 効果・示唆: データを連携したことで可能になったこと。",
                         "公開可否: 可 = 個人が分からない形に確認したうえで成果報告会の資料に載せてよい / 否 = 載せない。",
                         "公開の前に、氏名・読み・学校名・住所・宛名番号・日付 (日まで)・年齢・学年が含まれていないか自動で確認し、",
                         "含まれている事例は公開資料に載せません。年齢は年齢帯 (例: 6〜11歳)、日付は月までで書いてください。",
                         PRIVATE_NOTE], PrintedAs("事例記録", to=CASE_STAFF, fy=p.fiscal_year)))
    ledger.record(p, [Paper("事例記録テンプレート", f, CASE_STAFF, p.records.staff_basis, [person_of[x] for x in rows["抽出ID"]],
                            [c for c in rows.columns if c in CONTEXT], list(load_registry(p)), rows)])
    return f


def read_records(p: Params, dec: pd.DataFrame | None, scores: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Validated case records joined to the child's pseudonym (``None`` when staff have not saved any), read from the
    filled template as saved (``shien/jirei.xlsx`` or ``.csv``); rows numbered as Excel shows them."""
    f = saved_file(p, "cases", "事例記録")
    if f is None:
        return None, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    t = read_saved(f, REQUIRED, "事例記録", f"事例記録のテンプレート ({datasets.path(p, 'case_template').name})")
    ids = dict(zip(scores["extract_id"].dropna(), scores.loc[scores["extract_id"].notna(), "person_id"], strict=True))
    needed = set(dec.loc[dec["support_needed"] == NEED_YES, "extract_id"]) if dec is not None else None
    src = str(f.relative_to(p.raw_year)) if f.is_relative_to(p.raw_year) else f.name
    good, seen = [], set()
    q = [(src, t.sheet, n, "(行全体)", "", reason) for n, reason in t.broken]
    gone = stopped(p).extract_ids
    for n, raw in t.records(REQUIRED + OPTIONAL):
        v = {h: nfkc(x).strip() if h not in NARRATIVE else x.strip() for h, x in raw.items()}
        if v["抽出ID"] in gone:  # a child under 利用停止: left out, never reported
            continue
        problems = []
        if v["抽出ID"] not in ids:
            problems.append(("抽出ID", v["抽出ID"], "今年度の抽出リストにない抽出IDです"))
        elif needed is not None and v["抽出ID"] not in needed:
            problems.append(("抽出ID", v["抽出ID"], "会議で支援要と判断されていないこどもの抽出IDです"))
        elif v["抽出ID"] in seen:
            problems.append(("抽出ID", v["抽出ID"], "同じ抽出IDが前の行にもあります"))
        if v["公開可否"] not in PUBLIC:
            problems.append(("公開可否", v["公開可否"], "公開可否は 可・否 のいずれかです"))
        day = parse_date(v["記録日"]) if v.get("記録日") else None
        if v.get("記録日") and day is None:
            problems.append(("記録日", v["記録日"], "日付として読めません"))
        if not any(v[c] for c in NARRATIVE):
            problems.append(("(記述)", "", "記述の列がすべて空欄です"))
        if problems:
            q.extend((src, t.sheet, n, c, val if c not in NARRATIVE else "", reason) for c, val, reason in problems)
            continue
        seen.add(v["抽出ID"])
        good.append({"row": n, "extract_id": v["抽出ID"], "person_id": ids[v["抽出ID"]], **{c: v[c] for c in NARRATIVE},
                     "public": v["公開可否"] == "可", "recorded_on": pd.Timestamp(day) if day else pd.NaT})
    recs = pd.DataFrame(good, columns=["row", "extract_id", "person_id", *NARRATIVE, "public", "recorded_on"])
    quarantine = pd.DataFrame(q, columns=QUARANTINE_COLUMNS)
    log.info("事例記録: %d 行を読み込み, %d 行を隔離 (%s)", len(recs), quarantine["row"].nunique() if len(q) else 0, f)
    return recs, quarantine
