"""判定と抽出 (30_extract): each child's counts and group, the list for the support meeting, one assessment sheet per
listed child, the hearing form of each school, and the 名寄せ review queue ordered by what confirming each pending
pair would change.

Modules: :mod:`.listing` (the meeting's list), :mod:`.sheets` (assessment sheets), :mod:`.history` (earlier years
on the sheets), :mod:`.school_hearing` (学校への聞き取り: forms and answers), :mod:`.pending` (records waiting for
名寄せ review).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..catalogue import datasets, notices
from ..judgement.scoring import risk_and_reasons, score_year
from ..linkage import read_links, write_queue
from ..params import Params
from . import pending, school_hearing
from .listing import extraction_table, write_extraction_list
from .sheets import write_assessment_sheets

STEP = "30_extract"
OPINION_NOTE = "家族の意見 (判断に対して記録した意見)"


def opinions(p: Params) -> pd.Series:
    """Per child pseudonym, the family's 意見 recorded this year (受付番号 and 決定日 with each)."""
    c = datasets.read(p, "corrections")
    if c is None or c.empty:
        return pd.Series(dtype="object")
    o = c[c["kind"] == "意見"].sort_values(["decided_on", "receipt"])
    text = o["after"] + " (受付 " + o["receipt"] + "、" + pd.to_datetime(o["decided_on"]).dt.strftime("%Y-%m-%d") + ")"
    return text.groupby(o["person_id"]).agg(" / ".join)


@dataclass
class ExtractResult:
    """What 30_extract found and wrote."""

    scores: pd.DataFrame                  # one row per child: counts, group, rank, 抽出ID
    evidence: pd.DataFrame                # what each item matched on
    catalogue: dict                       # the items that count this year
    items: pd.DataFrame                   # each child's items
    table: pd.DataFrame                   # the extraction list as written
    hearing: pd.DataFrame | None          # the schools' answers read back
    hearing_quarantine: pd.DataFrame
    pending: pd.DataFrame                 # pending school records and what confirming them would change
    pending_counts: dict
    seconds_scores: float
    seconds: float
    files: dict[str, object] = field(default_factory=dict)   # list, sheets, forms (when written)

    @property
    def sheets(self) -> list[Path]:
        return list(self.files.get("sheets", []))


def run(p: Params, write: bool = True) -> ExtractResult:
    """Scores, the extraction list and the assessment sheets of the year; the 名寄せ review queue ordered by what
    confirming each pending pair would change, and the list's children with pending school records flagged."""
    t0 = time.perf_counter()
    scores, ev, catalogue, items = score_year(p, write=write)
    t_scores = time.perf_counter() - t0
    pairs = pending.pending_pairs(p)
    imp = pending.impact(p, scores, pairs, catalogue)
    answers, hearing_q = school_hearing.read_answers(p, scores)
    extra = {**risk_and_reasons(scores, catalogue, p), "確認待ちの学校記録": pending.flags(scores, imp),
             "学校からの聞き取り": school_hearing.for_list(answers)}
    table = extraction_table(p, scores, ev, catalogue, extra)
    files: dict = {}
    counts = pending.summary(read_links(p), imp)
    if write:
        files["list"] = write_extraction_list(p, table, list(scores.loc[scores["group"] != "", "person_id"]))
        sheet_notes = {**extra, OPINION_NOTE: opinions(p)}  # the family's 意見 on the sheet, never on the list
        files["sheets"] = write_assessment_sheets(p, scores, ev, catalogue, sheet_notes, school_hearing.for_sheet(answers))
        listed = scores[scores["group"] != ""]
        files["forms"] = school_hearing.write_forms(p, school_hearing.form_tables(p, scores, ev, catalogue), catalogue,
                                                    dict(zip(listed["extract_id"], listed["person_id"], strict=True)))
        datasets.write(p, "hearing_answers", answers)
        datasets.write(p, "hearing_quarantine", hearing_q)
        if len(hearing_q):
            notices.add(p, STEP, f"FY{p.fiscal_year}: 学校からの聞き取りの回答のうち {len(hearing_q)} 件を隔離しました (理由は "
                                 f"{datasets.path(p, 'hearing_quarantine')})")
        if datasets.exists(p, "review_pairs"):
            write_queue(p, pending.ordered_queue(imp, pairs))
        if counts["records_pending"] or counts["records_unmatched"]:
            notices.add(p, STEP, f"FY{p.fiscal_year}: 名寄せの確認待ち {counts['records_pending']} 件 (確認すると抽出が変わる組 "
                                 f"{counts['pairs_changing_list']}、抽出グループが変わりうるこども "
                                 f"{counts['children_group_could_change']} 人)、候補なし {counts['records_unmatched']} 件",
                        level="warning" if counts["pairs_changing_list"] else "info")
    return ExtractResult(scores=scores, evidence=ev, catalogue=catalogue, items=items, table=table, hearing=answers,
                         hearing_quarantine=hearing_q, pending=imp, pending_counts=counts,
                         seconds_scores=round(t_scores, 2), seconds=round(time.perf_counter() - t0, 2), files=files)


__all__ = ["ExtractResult", "run"]
