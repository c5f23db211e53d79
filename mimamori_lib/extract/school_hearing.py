"""学校への聞き取り: the hearing form each school receives before the meeting, and its answers read back.

After extraction, こども家庭課 and 学校教育課 ask each school about its listed pupils (Beppu: 「学校での様子やこどもの
家庭環境等を踏まえ、教職員の現場目線で具体的に回答をいただく」). One workbook per school with listed pupils
(``reports/internal/<fy>/kikitori/<学校名>.xlsx``): per pupil the 抽出ID, name, grade and class and the school-side items
only (the school recipient's, params ``sharing``), with columns for the school's answers. The answers come back as
``<exports>/<fy>/kikitori/<学校名>.xlsx`` (or .csv) and are read row by row: an unknown 抽出ID, a pupil of another school
or an unreadable date is quarantined with its reason; the answers appear on the meeting list and the assessment
sheets.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..catalogue.readback import read_saved
from ..catalogue.registry import load_registry, role_source
from ..catalogue.vocabulary import QUARANTINE_COLUMNS
from ..errors import InputError
from ..output.workbook import (
    PRIVATE_NOTE,
    PrintedAs,
    drop_down,
    fit_columns,
    printable,
    table_sheet,
    with_notes,
)
from ..params import Params
from ..records import ledger, sharing
from ..records.ledger import Paper
from ..rights.stops import stopped
from ..text.normalize import nfkc, parse_date

log = logging.getLogger(__name__)
ANSWERS = ["学校での様子", "家庭で気になること", "必要と思われる支援", "回答者", "回答日"]
SHEET = "聞き取り"


def form_tables(p: Params, scores: pd.DataFrame, ev: pd.DataFrame, catalogue: dict) -> dict[str, pd.DataFrame]:
    """Per school (its short name), the listed pupils with what the school may see and empty answer columns."""
    listed = scores[(scores["group"] != "").to_numpy()].sort_values("extract_id")
    at_school = sharing.pupils(p, listed["person_id"])
    if at_school.empty:
        return {}
    items = sharing.allowed_items(p, p.sharing.school, catalogue)
    words = sharing.matched_words(ev, items, catalogue, at_school.index)
    who = sharing.names(p, at_school.index)
    x = listed[listed["person_id"].isin(at_school.index)]
    t = pd.DataFrame({"抽出ID": x["extract_id"].to_numpy(), "氏名": x["person_id"].map(who["name"]).to_numpy(),
                      "ふりがな": x["person_id"].map(who["name_kana"]).to_numpy(),
                      "学年": x["person_id"].map(at_school["grade"]).to_numpy(),
                      "組": x["person_id"].map(at_school["class_no"]).to_numpy(),
                      "学校の記録で該当する項目": x["person_id"].map(words).fillna("").to_numpy(),
                      **{c: "" for c in ANSWERS}})
    school = x["person_id"].map(at_school["school_short"]).to_numpy()
    return {s: t[school == s].sort_values(["学年", "組", "抽出ID"]).reset_index(drop=True) for s in sorted(set(school))}


WRITE_IN_HEIGHT = 46   # points: room to write by hand on the printed form (12 pupils to an A4 landscape page)


def printed_as(p: Params, school: str) -> PrintedAs:
    """The hearing form as printed: to the school, with the reply deadline and the contact."""
    today = dt.date.today()
    return PrintedAs("学校への聞き取り票", to=school, fy=p.fiscal_year, written=today,
                     deadline=today + dt.timedelta(days=p.sharing.reply_days), contact=p.sharing.contact)


def _workbook(p: Params, school: str, table: pd.DataFrame, note: str):
    """One school's form: the pupils (answer columns in yellow, room to write by hand, a choice of respondent and a
    date check on 回答日, each with an input message), printable, and the explanation sheet first."""
    from openpyxl.styles import Font, PatternFill

    wb, ws, cols, n = table_sheet(table, SHEET)
    drop_down(ws, cols["回答者"], list(p.sharing.respondents), n + 20, prompt="回答者の立場を選んでください (氏名は不要です)")
    drop_down(ws, cols["回答日"], None, n + 20, prompt="回答した日を 2025/11/20 の形で入力してください")
    fill, head = PatternFill("solid", fgColor="FFF7D6"), PatternFill("solid", fgColor="DDDDDD")
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = fill if c.value in ANSWERS else head
    how = printed_as(p, school)
    fit_columns(ws, write_in=tuple(ANSWERS[:3]), row_height=WRITE_IN_HEIGHT)
    ws.freeze_panes = "C2"
    printable(ws, how)
    with_notes(wb, ["支援が必要かもしれないこどもについて、学校での様子や家庭環境などを、教職員の現場目線で具体的に記入して"
                    "ください。",
                    "黄色の列 (学校での様子・家庭で気になること・必要と思われる支援・回答者・回答日) を記入してください。Excel で"
                    "記入したときは、ファイル名を変えずにそのまま返送してください。印刷して手書きで記入したときは、記入した紙を"
                    "返送してください (担当者が入力します)。",
                    "回答者は役職 (担任・教頭・スクールカウンセラーなど) で記入し、氏名は不要です。",
                    note, PRIVATE_NOTE], how)
    return wb


def write_forms(p: Params, tables: dict[str, pd.DataFrame], catalogue: dict, person_of: dict[str, str]) -> Path:
    """``reports/internal/<fy>/kikitori/<学校名>.xlsx``: one form per school with listed pupils, each recorded in the
    提供記録 (``person_of``: 抽出ID → the child's pseudonym)."""
    note = sharing.left_out(p, p.sharing.school, catalogue)
    files = {datasets.member("hearing_forms", school=sharing.file_name(s)): _workbook(p, s, t, note).save for s, t in tables.items()}
    target = datasets.write(p, "hearing_forms", files)
    r = sharing.recipient(p, p.sharing.school)
    sources = [*load_registry(p)] if r.all_items else [role_source(p, "registry"), *r.sources]
    ledger.record(p, [Paper("聞き取り票", target / datasets.member("hearing_forms", school=sharing.file_name(s)), f"{s} ({r.label})", r.basis,
                            [person_of[x] for x in t["抽出ID"]], [c for c in t.columns if c not in ANSWERS], sources,
                            t[[c for c in t.columns if c not in ANSWERS]])
                      for s, t in tables.items()])
    return target


def read_answers(p: Params, scores: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The schools' answers (``None`` when no school has answered yet) and the rows set aside, with reasons. The
    school of a file is its name (the form's own)."""
    files = datasets.saved_files(p, "hearing")
    if not files:
        return None, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    listed = scores[(scores["group"] != "").to_numpy()]
    ids = dict(zip(listed["extract_id"], listed["person_id"], strict=True))
    schools = sharing.pupils(p, listed["person_id"])["school_short"]
    known = {sharing.file_name(s) for s in schools}
    good, q, seen = [], [], set()
    gone = stopped(p).extract_ids
    for f in files:
        src = str(f.relative_to(p.raw_year))
        if f.stem not in known:
            q.append((src, "", 0, "(ファイル)", f.stem, "ファイル名が聞き取り票を送った学校名ではありません (送ったときの名前のまま"
                                                      "保存してください)"))
            continue
        try:
            t = read_saved(f, ["抽出ID", *ANSWERS], "学校からの聞き取りの回答", f"聞き取り票 ({f.name})")
        except InputError as e:
            q.append((src, "", 0, "(ファイル)", "", str(e)))
            continue
        q.extend((src, t.sheet, n, "(行全体)", "", reason) for n, reason in t.broken)
        for n, v in t.records(["抽出ID", *ANSWERS]):
            v = {k: (nfkc(x) if k in ("抽出ID", "回答日") else x.strip()) for k, x in v.items()}
            if v["抽出ID"] in gone:  # a child under 利用停止: left out, never reported
                continue
            if not any(v[c] for c in ANSWERS[:3]):
                continue  # not answered for this pupil
            problems = []
            pid = ids.get(v["抽出ID"])
            if pid is None:
                problems.append(("抽出ID", v["抽出ID"], "今年度の抽出リストにない抽出IDです"))
            elif sharing.file_name(schools.get(pid, "")) != f.stem:
                problems.append(("抽出ID", v["抽出ID"], "この学校の児童生徒ではありません (別の学校の票の行です)"))
            elif pid in seen:
                problems.append(("抽出ID", v["抽出ID"], "同じ抽出IDの回答が前の行にもあります"))
            day = parse_date(v["回答日"]) if v["回答日"] else None
            if v["回答日"] and day is None:
                problems.append(("回答日", v["回答日"], "日付として読めません"))
            if problems:
                q.extend((src, t.sheet, n, c, val, reason) for c, val, reason in problems)
                continue
            seen.add(pid)
            good.append({"person_id": pid, "extract_id": v["抽出ID"], "school": f.stem, "file": f.name, "row": n,
                         **{c: v[c] for c in ANSWERS[:4]}, "回答日": pd.Timestamp(day) if day else pd.NaT})
    answers = pd.DataFrame(good, columns=["person_id", "extract_id", "school", "file", "row", *ANSWERS])
    log.info("学校からの聞き取り: %d 人分を読み込み, %d 行を隔離", len(answers), len({(x[0], x[2]) for x in q}))
    return answers, pd.DataFrame(q, columns=QUARANTINE_COLUMNS)


def for_list(answers: pd.DataFrame | None) -> pd.Series:
    """Per child, the school's answer in one cell of the meeting list."""
    if answers is None or answers.empty:
        return pd.Series(dtype="object")
    text = answers.apply(lambda r: " / ".join(f"{c}: {r[c]}" for c in ANSWERS[:3] if r[c]), axis=1)
    return pd.Series(text.to_numpy(), index=answers["person_id"].to_numpy())


def for_sheet(answers: pd.DataFrame | None) -> dict[str, dict]:
    """Per child, the school's answer for the assessment sheet."""
    if answers is None or answers.empty:
        return {}
    out = {}
    for r in answers.itertuples(index=False):
        d = r._asdict()
        day = d["回答日"]
        out[d["person_id"]] = {"school": d["school"], "manner": d["学校での様子"], "home": d["家庭で気になること"],
                               "support": d["必要と思われる支援"], "by": d["回答者"],
                               "date": "" if pd.isna(day) else pd.Timestamp(day).strftime("%Y-%m-%d")}
    return out
