"""Retention and purge (個人情報保護法 第61条第2項): nothing is kept past its time, and what is purged stays purged.

A fiscal year's screening data — its processed tables, the papers that named children, the notebooks' reports — is
needed for the next year's comparison and backtest, then no longer: it expires ``retention.years`` after the year
ends (3/31). The meeting's decisions and the case records follow the city's 文書管理規程 (``retention.records_years``)
and stay in the year's folder until then. ``mimamori purge`` prints what has expired and, with ``--yes``, removes it,
appends to ``reports/purge_log.csv`` what was removed, when and by whom (counts only), and marks the year purged
(``processed/purged.json``), so that no later run rebuilds it from exports still on disk. Public reports are kept; so
is the 提供記録 (the city's own account of what it gave).
"""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..params import Params

SCREENING, RECORDS = "判定データ", "会議の判断・事例記録"
KEPT_AS_RECORDS = ("decisions", "case_records")   # datasets kept for records_years, in the year's folder


@dataclass
class Expired:
    """What of a fiscal year has expired: its screening data, or its records too."""

    fy: int
    kind: str                       # SCREENING or RECORDS
    until: dt.date                  # the last day it was to be kept
    paths: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(sum(1 for f in x.rglob("*") if f.is_file()) if x.is_dir() else 1 for x in self.paths if x.exists())


def kept_until(fy: int, years: int) -> dt.date:
    """The last day a fiscal year's data is kept: ``years`` after the year ends (3/31 of fy + 1)."""
    return dt.date(fy + 1 + years, 3, 31)


def _years(p: Params) -> list[int]:
    roots = [p.processed.parent, p.internal_root, p.reports]
    return sorted({int(d.name[2:]) for r in roots if r.is_dir() for d in r.glob("fy*") if d.name[2:].isdigit()})


def _folders(p: Params, fy: int) -> list[Path]:
    q = p.with_overrides({"fiscal_year": fy, "reference_date": None})
    return [q.processed, q.internal, q.reports / q.fy]


def expired(p: Params, today: dt.date) -> list[Expired]:
    """Everything of the out dir's years that has passed its retention on ``today``."""
    out = []
    for fy in _years(p):
        q = p.with_overrides({"fiscal_year": fy, "reference_date": None})
        records = [datasets.path(q, n) for n in KEPT_AS_RECORDS]
        if today > kept_until(fy, p.retention.years):
            paths = [x for f in _folders(p, fy) if f.exists() for x in _contents(f, keep=records)]
            if paths:
                out.append(Expired(fy, SCREENING, kept_until(fy, p.retention.years), paths))
        if today > kept_until(fy, p.retention.records_years):
            paths = [f for f in records if f.exists()]
            if paths:
                out.append(Expired(fy, RECORDS, kept_until(fy, p.retention.records_years), paths))
    return out


def _contents(folder: Path, keep: list[Path]) -> list[Path]:
    """What to remove of a year's folder: everything but the records kept longer (and the folders that hold them)."""
    if not any(k.is_relative_to(folder) for k in keep):
        return [folder]
    out = []
    for x in sorted(folder.iterdir()):
        if x in keep:
            continue
        if x.is_dir() and any(k.is_relative_to(x) for k in keep):
            out += _contents(x, keep)
        else:
            out.append(x)
    return out


def purge(p: Params, today: dt.date) -> list[Expired]:
    """Remove what has expired, log it and mark the years purged. Returns what was removed."""
    found = expired(p, today)
    if not found:
        return []
    rows = []
    now = dt.datetime.now().isoformat(timespec="seconds")
    who = _author()
    for e in found:
        n = e.files
        for x in e.paths:
            if x.is_dir():
                shutil.rmtree(x)
            else:
                x.unlink(missing_ok=True)
        rows.append({"実行日時": now, "実行者": who, "年度": e.fy, "区分": e.kind, "保存期限": e.until.isoformat(),
                     "削除したファイル数": n, "削除した場所": "・".join(sorted({_place(p, x) for x in e.paths}))})
    _log(p, rows)
    _mark(p, found, now)
    for fy in sorted({e.fy for e in found}):
        for f in _folders(p, fy):
            if f.is_dir() and not any(f.rglob("*")):
                f.rmdir()
    return found


def _place(p: Params, x: Path) -> str:
    """The year's folder a removed path was in, relative to the out dir (processed/fy2024, reports/internal/fy2024)."""
    base = p.reports.parent
    parts = x.relative_to(base).parts if x.is_relative_to(base) else x.parts
    year = next((i for i, s in enumerate(parts) if s.startswith("fy") and s[2:].isdigit()), len(parts) - 1)
    return "/".join(parts[: year + 1])


def _log(p: Params, rows: list[dict]) -> None:
    old = datasets.read(p, "purge_log")
    t = pd.DataFrame(rows)
    datasets.write(p, "purge_log", pd.concat([old, t], ignore_index=True) if old is not None and len(old) else t)


def purged(p: Params) -> dict[int, dict]:
    """The years purged so far: fy → {kind: when}."""
    d = datasets.read(p, "purged") or {}
    return {int(k): v for k, v in d.items()}


def _mark(p: Params, found: list[Expired], when: str) -> None:
    marks = {str(k): v for k, v in purged(p).items()}
    for e in found:
        marks.setdefault(str(e.fy), {})[e.kind] = when
    datasets.write(p, "purged", marks)


def screening_purged(p: Params) -> list[int]:
    """The years whose screening data was purged: no run makes them again."""
    return sorted(fy for fy, kinds in purged(p).items() if SCREENING in kinds)


def describe(found: list[Expired]) -> list[str]:
    """What has expired, in Japanese lines (counts only)."""
    return [f"FY{e.fy} の{e.kind} (保存期限 {e.until:%Y-%m-%d}): {len(e.paths)} か所、{e.files} ファイル" for e in found]


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover
        return "不明"
