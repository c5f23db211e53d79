"""検討結果の提供: after the support meeting, a paper for each recipient (Beppu: 「こども家庭センターや学校に検討結果を
提供し」) — the children judged 支援要 or 保留 (params ``sharing.hand_over``) that concern it, with the decision, 困難の類型,
支援内容 and start date, and only the items it may see (:mod:`mimamori_lib.records.sharing`). A school receives its own pupils only:
``reports/internal/<fy>/teikyo/<学校名>.xlsx``; every other recipient one paper, ``teikyo/<名称>.xlsx``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry, role_source
from ..catalogue.vocabulary import split_types
from ..output.workbook import PRIVATE_NOTE, PrintedAs, table_sheet, with_notes
from ..params import Params
from ..records import ledger, sharing
from ..records.ledger import Paper
from ..text.japanese import wareki_date

TYPES_SHOWN = "、"


def _rows(p: Params, dec: pd.DataFrame, ev: pd.DataFrame, catalogue: dict, rid: str, at_school: pd.DataFrame,
          who: pd.DataFrame) -> pd.DataFrame:
    """One recipient's rows (``who``: the handed-over children's 氏名 and ふりがな, by pseudonym)."""
    words = sharing.matched_words(ev, sharing.allowed_items(p, rid, catalogue), catalogue, dec["person_id"])
    t = pd.DataFrame({"抽出ID": dec["extract_id"].to_numpy(), "氏名": dec["person_id"].map(who["name"]).to_numpy(),
                      "ふりがな": dec["person_id"].map(who["name_kana"]).to_numpy()})
    if sharing.recipient(p, rid).per_school:
        t["学年"] = dec["person_id"].map(at_school["grade"]).to_numpy()
        t["組"] = dec["person_id"].map(at_school["class_no"]).to_numpy()
    else:
        t["学校"] = dec["person_id"].map(at_school["school_short"]).fillna("").to_numpy()
    t["支援要否"] = dec["support_needed"].to_numpy()
    # several types joined with 「、」: 「発達・障害」 is one type, and 「・」 would read as two
    t["困難の類型"] = [TYPES_SHOWN.join(split_types(x or "") or [x]) if x else "" for x in dec["difficulty_types"]]
    t["支援内容"] = dec["support_content"].to_numpy()
    t["支援開始日"] = [d.date() if not pd.isna(d) else None for d in pd.to_datetime(dec["support_started_on"])]
    t["該当する項目"] = dec["person_id"].map(words).fillna("").to_numpy()
    return t


def papers(p: Params, dec: pd.DataFrame, ev: pd.DataFrame, catalogue: dict) -> dict[str, tuple[str, pd.DataFrame]]:
    """File name → (recipient id, table): one per school with handed-over pupils, one per other recipient."""
    handed = dec[dec["support_needed"].isin(p.sharing.hand_over)].sort_values("extract_id")
    at_school, who = sharing.pupils(p, handed["person_id"]), sharing.names(p, handed["person_id"])
    ev = ev[isin(ev["person_id"], handed["person_id"])]  # the handed-over children's evidence, cut once for every paper
    out = {}
    for rid, r in p.sharing.recipients.items():
        if r.per_school:
            school = handed["person_id"].map(at_school["school_short"])
            for s in sorted(school.dropna().unique()):
                out[datasets.member("handover", recipient=sharing.file_name(s))] = (rid, _rows(p, handed[(school == s).fillna(False).to_numpy(dtype=bool)], ev, catalogue, rid,
                                                                  at_school, who))
        else:
            out[datasets.member("handover", recipient=sharing.file_name(r.label))] = (rid, _rows(p, handed, ev, catalogue, rid, at_school, who))
    return out


def _save(p: Params, rid: str, to: str, table: pd.DataFrame, catalogue: dict, met: dt.date | None):
    """One recipient's paper: printable, addressed to it by name, with the day of the meeting."""
    from openpyxl.styles import Font

    wb, ws, _, _ = table_sheet(table, "検討結果")
    for c in ws[1]:
        c.font = Font(bold=True)
    how = PrintedAs("支援担当者会議の検討結果", to=to, fy=p.fiscal_year, contact=p.sharing.contact)
    return with_notes(wb, [f"支援担当者会議{f' ({wareki_date(met)})' if met else ''}で、支援要・保留と判断したこどもです。"
                           "支援の内容と開始日を共有します。",
                           "困難の類型は、いくつかあるときは「、」で区切っています。",
                           sharing.left_out(p, rid, catalogue), PRIVATE_NOTE], how)


def _to(p: Params, rid: str, file_name: str) -> str:
    """Whom a paper goes to, by name (a school's paper: the school)."""
    return Path(file_name).stem if sharing.recipient(p, rid).per_school else sharing.recipient(p, rid).label


def _paper(p: Params, f: Path, rid: str, table: pd.DataFrame, person_of: dict[str, str], catalogue: dict) -> Paper:
    """The 提供記録 of one hand-over paper."""
    r = sharing.recipient(p, rid)
    sources = list(load_registry(p)) if r.all_items else [role_source(p, "registry"), *r.sources]
    to = f"{f.stem} ({r.label})" if r.per_school else r.label
    return Paper("検討結果の提供", f, to, r.basis, [person_of[x] for x in table["抽出ID"]], list(table.columns), sources,
                 table)


def write_papers(p: Params, dec: pd.DataFrame | None, ev: pd.DataFrame, catalogue: dict) -> pd.DataFrame:
    """``reports/internal/<fy>/teikyo/``: the hand-over papers (an empty folder before the meeting's decisions).
    Returns how many papers and children each recipient receives."""
    made = {} if dec is None else papers(p, dec, ev, catalogue)
    met = pd.to_datetime(dec["decided_on"]).max() if dec is not None and len(dec) else pd.NaT
    met = None if pd.isna(met) else met.date()
    target = datasets.write(p, "handover", {name: _save(p, rid, _to(p, rid, name), t, catalogue, met)
                                            for name, (rid, t) in made.items()})
    if made:
        person_of = dict(zip(dec["extract_id"], dec["person_id"], strict=True))
        ledger.record(p, [_paper(p, target / name, rid, t, person_of, catalogue) for name, (rid, t) in made.items()])
    rows = [{"受け取り先": sharing.recipient(p, rid).label, "こども": len(t)} for rid, t in made.values()]
    t = pd.DataFrame(rows, columns=["受け取り先", "こども"])
    return t.groupby("受け取り先", sort=False).agg(票の数=("こども", "size"), こども=("こども", "sum")).reset_index()
