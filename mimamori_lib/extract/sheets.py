"""One printable (A4) assessment sheet per extracted child: ``reports/internal/<fy>/assessment/<抽出ID>.html``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from .. import paths
from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.ages import age_on
from ..catalogue.registry import code_labels, load_registry, role_source
from ..catalogue.tables import read_people, read_table
from ..catalogue.vocabulary import DIFFICULTY_TYPES
from ..judgement.scoring import GROUP_LABEL
from ..params import Params
from ..records import ledger
from ..records.ledger import Paper
from ..text.gaiji import displayable
from ..text.japanese import wareki_date, wareki_fy
from .history import (
    answers_by_child,
    attendance_by_year,
    attendance_of,
    fmt_date,
    history_by_year,
    history_of,
    linked_rows,
)
from .listing import school_of

SHEET_ITEMS = ["抽出ID", "氏名", "ふりがな", "生年月日", "性別", "宛名番号", "住所", "学校・学年", "世帯構成", "該当項目",
               "出欠の推移", "生活習慣等調査", "これまでの抽出と判断", "学校からの聞き取り"]


def _whole(v) -> int | str:
    """A count as people write it (62, not 62.0)."""
    return "" if v is None or pd.isna(v) else int(v)


def write_assessment_sheets(p: Params, scores: pd.DataFrame, ev: pd.DataFrame, catalogue: dict,
                            notes: dict[str, pd.Series] | None = None, hearing: dict[str, dict] | None = None) -> list[Path]:
    """One printable (A4) HTML assessment sheet per extracted child: ``assessment/<抽出ID>.html``."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(paths.PACKAGE / "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.filters["wareki_fy"] = lambda fy: wareki_fy(int(fy))
    tpl = env.get_template("assessment.html.j2")
    listed = scores[(scores["group"] != "").to_numpy()]
    juki = read_table(p, role_source(p, "registry")).set_index("person_id")
    households = juki["household_id"].reindex(listed["person_id"]).dropna().unique()
    juki = juki[isin(juki["household_id"], households)].copy()
    juki["age"] = age_on(juki["birth_date"], p.reference_date)
    reg = read_people(p, households=households).set_index("person_id")
    school = school_of(p, listed["person_id"])
    links = datasets.read(p, "links")
    survey, sv_id = None, role_source(p, "survey")
    if read_table(p, sv_id) is not None and links is not None:
        survey = read_table(p, sv_id).merge(linked_rows(links, load_registry(p)[sv_id]["path"]), on="row")
        survey = survey[isin(survey["person_id"], listed["person_id"])]
    attendance, history = attendance_by_year(p), history_by_year(p)
    sv_spec = load_registry(p)[sv_id]
    ev_listed = ev[isin(ev["person_id"], listed["person_id"])].sort_values(["person_id", "item", "date"])
    ev_by_child = {pid: g.to_dict("records") for pid, g in ev_listed.groupby("person_id", sort=False)}
    sheets: dict[str, str] = {}
    sex_words = code_labels(p, "sex")
    today_label = wareki_date(dt.date.today())
    people = reg.to_dict("index")
    members, household_of = _household_members(juki, people), juki["household_id"].to_dict()
    attendance_rows = {fy: t[isin(t.index, listed["person_id"])].to_dict("index") for fy, t in attendance.items()}
    history_rows = {fy: (s.to_dict("index"), dec.to_dict("index")) for fy, (s, dec) in history.items()}
    answers = answers_by_child(survey, sv_spec)
    for s in listed.to_dict("records"):
        pid = s["person_id"]
        me = people[pid]
        e = ev_by_child.get(pid, [])
        def rows(kind: str, e=e) -> list[dict]:
            return [{"item": r["item"], "label": catalogue[r["item"]]["label"], "type": catalogue[r["item"]]["type"],
                     "kind": "基本" if catalogue[r["item"]].get("basic") else "その他", "department": r["department"],
                     "date": fmt_date(r["date"]), "detail": r["detail"]} for r in e if r["kind"] == kind]
        supported = []
        for i in p.extraction.supported_items:
            if i in s and s[i]:
                supported.append(catalogue[i]["label"])
        if s.get("supported_earlier_decision"):
            supported.append("前年度までの会議で支援要")
        c = {"extract_id": s["extract_id"], "group_label": GROUP_LABEL[s["group"]], "rank": _whole(s["rank"]),
             "tied": bool(s["tied"]),
             "name": displayable(me["name"]), "kana": displayable(me["name_kana"]), "birth": fmt_date(me["birth_date"]), "age": int(s["age"]),
             "sex": sex_words.get(str(me["sex"]), ""), "atena": me["atena_no"], "school": school.get(pid, "—"),
             "address": displayable(me["address"]), "basic_count": int(s["basic_count"]), "other_count": int(s["other_count"]),
             "supported_text": "・".join(supported) or "なし",
             "notes": [(name, values[pid]) for name, values in (notes or {}).items() if pid in values.index and values[pid]]}
        html = tpl.render(c=c, fy=p.fiscal_year, fy_label=wareki_fy(p.fiscal_year), ref_label=wareki_date(p.reference_date),
                          today_label=today_label, household=members[household_of[pid]],
                          matched=rows("match"), near=rows("near"), attendance=attendance_of(attendance_rows, pid),
                          survey=answers.get(pid, []), history=history_of(history_rows, pid),
                          hearing=(hearing or {}).get(pid),
                          difficulty_types=DIFFICULTY_TYPES)
        sheets[datasets.member("assessment", extract_id=s["extract_id"])] = html
    target = datasets.write(p, "assessment", sheets)
    shown = {name: html.replace(today_label, "") for name, html in sheets.items()}  # the same sheets on another day
    ledger.record(p, [Paper("アセスメントシート", target, p.records.meeting, p.records.meeting_basis,
                            list(listed["person_id"]), SHEET_ITEMS, list(load_registry(p)), shown)])
    return [target / name for name in sheets]


def _household_members(juki: pd.DataFrame, people: dict[str, dict]) -> dict[str, list[dict]]:
    """Per household (the listed children's), its members as the sheet shows them: relation, name and age, eldest
    first."""
    out: dict[str, list[dict]] = {}
    members = juki.sort_values("birth_date", kind="stable")
    for hid, pid, relation, age in zip(members["household_id"], members.index, members["relation"], members["age"],
                                       strict=True):
        name = displayable(people[pid]["name"]) if pid in people else ""
        out.setdefault(hid, []).append({"relation": relation, "name": name, "age": int(age)})
    return out
