"""提供記録: every paper that names children, recorded when it is written (個人情報保護法 第69条, 第97条).

When the meeting list, a hearing form, a hand-over paper or a 開示 workbook leaves the analysis, the city must be able
to say afterwards who received which child's information, when, which items and on which legal basis — to answer a
開示請求, to tell the recipients after a correction, and for an audit. Each writer calls :func:`record` with a
:class:`Paper`; one private ledger per out dir holds a row per paper (``processed/restricted/teikyo_kiroku.parquet``,
with the children's pseudonyms) and a workbook staff read (``reports/internal/teikyo_kiroku.xlsx``, counts only).

A paper written again with the same content is not a second provision (its digest is the one recorded last for that
file); one whose content changed is. Steps run side by side, so the ledger is read and written under a lock. The
ledger is the city's own account: it is kept when a child's data is stopped (利用停止) or a year is purged.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..catalogue import datasets
from ..output.workbook import PRIVATE_NOTE, PrintedAs, table_sheet, with_notes
from ..params import Params

COLUMNS = ["recorded_at", "fy", "paper", "file", "recipient", "children", "person_ids", "items", "sources", "basis",
           "author", "digest"]
HEADERS = {"recorded_at": "作成日時", "fy": "年度", "paper": "書類", "file": "ファイル", "recipient": "提供先",
           "children": "人数", "items": "記載項目", "basis": "根拠", "author": "作成者"}


@dataclass
class Paper:
    """One paper that names children: what it is, where it was written, to whom it goes and what it carries."""

    paper: str                          # 書類 (抽出リスト, 聞き取り票, 検討結果の提供, 開示 …)
    file: Path                          # the file written
    recipient: str                      # 提供先 (a school's name, こども家庭センター, 支援担当者会議の構成員 …)
    basis: str                          # 根拠
    person_ids: list[str]               # the children it names (pseudonyms; never in the workbook)
    items: list[str]                    # 記載項目: the columns or items it carries
    sources: list[str] = field(default_factory=list)   # registry sources whose values it carries (for 第97条)
    content: object = None              # what it shows (a table, texts): the digest that tells a new provision


def _plain(content: object) -> object:
    """What a paper shows as plain data (tables as their columns and rows)."""
    if isinstance(content, pd.DataFrame):
        return {"columns": [str(c) for c in content.columns],
                "rows": content.astype(object).where(content.notna(), None).to_numpy().tolist()}
    if isinstance(content, dict):
        return {str(k): _plain(v) for k, v in content.items()}
    if isinstance(content, list | tuple):
        return [_plain(v) for v in content]
    return content


def digest(content: object) -> str:
    """A stable hash of what a paper shows (a DataFrame, a dict of texts or tables, a list): the same content, the
    same digest, whatever day it is written."""
    text = json.dumps(_plain(content), ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _relative(p: Params, f: Path) -> str:
    for base in (p.reports.parent, p.processed.parent.parent):
        with contextlib.suppress(ValueError):
            return str(Path(f).relative_to(base))
    return str(f)


@contextlib.contextmanager
def _locked(p: Params) -> Iterator[None]:
    """The ledger to oneself (steps of a run write papers side by side, in their own processes)."""
    lock = datasets.path(p, "ledger_lock")
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(lock, "a") as fh:
        lock.chmod(0o600)
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read(p: Params) -> pd.DataFrame:
    """Every paper recorded so far (an empty table before the first)."""
    t = datasets.read(p, "ledger")
    if t is None:
        return pd.DataFrame(columns=COLUMNS)
    for c in ("person_ids", "items", "sources"):
        t[c] = t[c].map(lambda v: list(v) if v is not None else [])
    return t


def record(p: Params, papers: Iterable[Paper]) -> int:
    """Append the papers just written (a paper whose content is what was recorded last for its file is not a second
    provision). Returns how many rows were added."""
    papers = list(papers)
    if not papers:
        return 0
    now = dt.datetime.now().isoformat(timespec="seconds")
    author = _author()
    with _locked(p):
        t = read(p)
        last = t.drop_duplicates("file", keep="last").set_index("file")["digest"] if len(t) else pd.Series(dtype=str)
        rows = []
        for x in papers:
            f, d = _relative(p, x.file), digest(x.content if x.content is not None else sorted(x.person_ids))
            if last.get(f) == d:
                continue
            rows.append({"recorded_at": now, "fy": p.fiscal_year, "paper": x.paper, "file": f, "recipient": x.recipient,
                         "children": len(set(x.person_ids)), "person_ids": sorted(set(x.person_ids)),
                         "items": list(x.items), "sources": list(x.sources), "basis": x.basis, "author": author,
                         "digest": d})
        if rows:
            t = pd.concat([t, pd.DataFrame(rows, columns=COLUMNS)], ignore_index=True) if len(t) else \
                pd.DataFrame(rows, columns=COLUMNS)
            t["fy"] = t["fy"].astype("int64")
            t["children"] = t["children"].astype("int64")
            datasets.write(p, "ledger", t)
            write_workbook(p, t)
    return len(rows)


def write_workbook(p: Params, t: pd.DataFrame) -> Path:
    """``reports/internal/teikyo_kiroku.xlsx``: a row per paper, counts only (the children are in the private
    table)."""
    view = t[list(HEADERS)].copy()
    view["items"] = view["items"].map("・".join)
    view = view.rename(columns=HEADERS)
    wb, ws, _, _ = table_sheet(view, "提供記録")
    ws.freeze_panes = "A2"
    notes = ["提供記録: 児童の個人情報を記載した書類を作成するたびに、1 行ずつ記録しています (個人情報保護法 第69条・第97条)。",
             "同じ内容の書類を作り直したときは記録しません。内容が変わったときは新たな提供として記録します。",
             f"どのこどもを記載したかは制限付きの表 ({datasets.path(p, 'ledger').name}) にあり、開示請求 (mimamori kaiji) と訂正の"
             "通知に使います。",
             PRIVATE_NOTE]
    return datasets.write(p, "ledger_xlsx", with_notes(wb, notes, PrintedAs("提供記録")))


def of_child(p: Params, person_id: str) -> pd.DataFrame:
    """The papers that named a child, oldest first."""
    t = read(p)
    if t.empty:
        return t
    return t[t["person_ids"].map(lambda ids: person_id in ids)].reset_index(drop=True)


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - a user without a name
        return "不明"
