"""支援担当者会議: read the meeting's decisions (``shien/kettei.xlsx`` or ``.csv``) back and join them to the extraction.

The file is the extraction list filled in by staff (its own columns may stay). Rows are validated: an unknown
抽出ID, an unknown 支援要否 or an unreadable date is set aside in ``decisions_quarantine.csv`` with its row
number and reason; nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd

from ..catalogue import datasets, notices
from ..catalogue.readback import read_saved, saved_file
from ..catalogue.vocabulary import (
    DECISION_COLUMNS,
    FLAG_FALSE,
    FLAG_TRUE,
    NEED_HOLD,
    NEED_YES,
    NEEDS,
    QUARANTINE_COLUMNS,
    split_types,
)
from ..errors import InputError
from ..judgement.scoring import GROUP_LABEL
from ..params import Params
from ..rights.stops import stopped
from ..text.normalize import nfkc, parse_date

log = logging.getLogger(__name__)
REQUIRED = ["抽出ID", *DECISION_COLUMNS]
TEMPLATE = "抽出リスト (" + datasets.dataset("extraction_xlsx").file + ")"


def read_decisions(p: Params, scores: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Validated decisions joined to the extraction (``None`` if the meeting has not saved its file yet), read from
    the filled extraction list as saved (``shien/kettei.xlsx`` or ``.csv``); rows numbered as Excel shows them."""
    f = saved_file(p, "decisions", "会議の判断")
    if f is None:
        return None, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    t = read_saved(f, REQUIRED, "会議の判断", TEMPLATE)
    ids = dict(zip(scores["extract_id"].dropna(), scores.loc[scores["extract_id"].notna(), "person_id"], strict=True))
    good, q = [], []
    seen: set[str] = set()
    src = str(f.relative_to(p.raw_year)) if f.is_relative_to(p.raw_year) else f.name
    q.extend((src, t.sheet, n, "(行全体)", "", reason) for n, reason in t.broken)
    gone = stopped(p).extract_ids
    for n, raw in t.records(REQUIRED):
        v = {h: nfkc(x).strip() for h, x in raw.items()}
        if v["抽出ID"] in gone:  # a child under 利用停止: left out, never reported
            continue
        problems = []
        if v["抽出ID"] not in ids:
            problems.append(("抽出ID", v["抽出ID"], "今年度の抽出リストにない抽出IDです"))
        elif v["抽出ID"] in seen:
            problems.append(("抽出ID", v["抽出ID"], "同じ抽出IDが前の行にもあります"))
        if v["既支援"].lower() not in FLAG_TRUE | FLAG_FALSE:
            problems.append(("既支援", v["既支援"], "既支援は 1/0・有/無・○/空欄 のいずれかです"))
        if v["支援要否"] not in NEEDS:
            problems.append(("支援要否", v["支援要否"], "支援要否は 要・否・保留 のいずれかです"))
        types = split_types(v["困難の類型"])
        if types is None:
            problems.append(("困難の類型", v["困難の類型"], "不明な困難の類型です"))
            types = []
        dates = {}
        for c in ("支援開始日", "判断日"):
            dates[c] = parse_date(v[c]) if v[c] else None
            if v[c] and dates[c] is None:
                problems.append((c, v[c], "日付として読めません"))
        if problems:
            q.extend((src, t.sheet, n, c, val, reason) for c, val, reason in problems)
            continue
        seen.add(v["抽出ID"])
        good.append({"row": n, "extract_id": v["抽出ID"], "person_id": ids[v["抽出ID"]],
                     "already_supported": v["既支援"].lower() in FLAG_TRUE, "support_needed": v["支援要否"],
                     "difficulty_types": "・".join(types), "support_content": v["支援内容"],
                     "support_started_on": pd.Timestamp(dates["支援開始日"]) if dates["支援開始日"] else pd.NaT,
                     "decided_on": pd.Timestamp(dates["判断日"]) if dates["判断日"] else pd.NaT})
    dec = pd.DataFrame(good, columns=["row", "extract_id", "person_id", "already_supported", "support_needed",
                                      "difficulty_types", "support_content", "support_started_on", "decided_on"])
    quarantine = pd.DataFrame(q, columns=QUARANTINE_COLUMNS)
    log.info("会議の判断: %d 行を読み込み, %d 行を隔離 (%s)", len(dec), quarantine["row"].nunique() if len(q) else 0, f)
    return dec, quarantine


def write_decisions(p: Params, dec: pd.DataFrame | None, quarantine: pd.DataFrame) -> None:
    """``decisions.parquet`` and ``decisions_quarantine.csv``; without usable decisions, an earlier run's table is
    removed so that no later step reads stale decisions."""
    datasets.write(p, "decisions", dec)
    datasets.write(p, "decisions_quarantine", quarantine)


@dataclass
class MeetingYear:
    """The year's meeting as read back: decisions (``None`` when there are none to use), quarantined rows, and a
    sentence for the report."""

    decisions: pd.DataFrame | None
    quarantine: pd.DataFrame
    message: str


def read_year(p: Params, scores: pd.DataFrame) -> MeetingYear:
    """Read the year's decisions for the 35_meeting step. A meeting not held yet or a file the pipeline cannot
    use is said plainly (and noted for the end of the run); the year's other steps still run."""
    try:
        dec, q = read_decisions(p, scores)
    except InputError as e:
        notices.add(p, "35_meeting", str(e))
        return MeetingYear(None, pd.DataFrame(columns=QUARANTINE_COLUMNS), str(e))
    if dec is None:
        xlsx, csv = (datasets.saved_target(p, "decisions", s) for s in (".xlsx", ".csv"))
        msg = (f"会議の判断はまだありません ({xlsx.parent} に {xlsx.name} も {csv.name} もありません)。会議で記入した"
               f"抽出リストを {datasets.saved_target(p, 'decisions', '.xlsx')} として保存すると、次回の実行で反映されます。")
        notices.add(p, "35_meeting", f"FY{p.fiscal_year}: {msg}", level="info")
        return MeetingYear(None, q, msg)
    msg = f"会議の判断 {len(dec)} 行を読み込みました ({datasets.saved_files(p, 'decisions')[0].name})。"
    if len(q):
        msg += f" {q['row'].nunique()} 行は不備があるため隔離しました ({datasets.path(p, 'decisions_quarantine').name} に理由)。"
        notices.add(p, "35_meeting", f"FY{p.fiscal_year}: 会議の判断のうち {q['row'].nunique()} 行を隔離しました (理由は "
                                     f"{datasets.path(p, 'decisions_quarantine')})")
    return MeetingYear(dec, q, msg)


def read_scores(p: Params) -> pd.DataFrame:
    """The year's scores and extraction (30_extract must have run)."""
    scores = datasets.read(p, "scores")
    if scores is None:
        raise InputError(f"抽出結果がありません: {datasets.path(p, 'scores')} (先に 30_extract を実行してください)")
    return scores


def quarantine_reasons(quarantine: pd.DataFrame) -> pd.DataFrame | str:
    """Quarantined rows of the decisions file by column and reason (no values)."""
    if quarantine.empty:
        return "隔離した行はありません。"
    return quarantine.groupby(["column", "reason"]).size().rename("件数").reset_index().rename(
        columns={"column": "列", "reason": "理由"})


def decision_summary(dec: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Decisions by extraction group: already supported, judged to need support (新規 = not already supported)."""
    m = dec.merge(scores[["person_id", "group"]], on="person_id", how="left")
    m["新規に支援要"] = (m["support_needed"] == NEED_YES) & ~m["already_supported"]
    t = m.groupby("group").agg(判断件数=("person_id", "size"), 既支援=("already_supported", "sum"),
                               支援要=("support_needed", lambda s: int((s == NEED_YES).sum())),
                               新規に支援要=("新規に支援要", "sum"), 保留=("support_needed", lambda s: int((s == NEED_HOLD).sum())),
                               支援開始=("support_started_on", lambda s: int(s.notna().sum())))
    return t.rename(index=GROUP_LABEL).reset_index().rename(columns={"group": "グループ"})
