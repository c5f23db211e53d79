"""訂正 and 利用停止 at ingestion: every run applies them to the exports as received, every year, before anything is
written (個人情報保護法 第90・98条).

- A correction changes one cell of one line of one export, and only when the export still holds 訂正前 there and the
  line belongs to the child (its 宛名番号; a household row by the child's household; a school row, which has no
  宛名番号, by the child's reading and birth date as the registry holds them). Otherwise it is set aside with the
  reason and nothing changes. The corrected value flows through everything after ingestion.
- A stop drops the child's rows of the sources it covers (全部: every source, the registry first), so that the child
  is in no table, list or paper, and the list is made as if the child were not there. Rows keep their numbers (a
  dropped row is left out the way a broken one is), so staff's saved answers still point at the right rows.
- A family's 意見 on a judgement is never applied: it is recorded beside it (assessment sheet, 開示).

Internal reports give the number of children under 停止 only (never a source, which would tell what is held).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..privacy.pseudonym import pseudonym
from ..text.cells import CellTable
from ..text.normalize import map_unique, nfkc, normalize_atena, normalize_name, parse_date, to_katakana
from .requests import Correction, Problem, Requests, Stop

APPLIED, SET_ASIDE, RECORDED = "適用", "隔離", "記録"
CORRECTION_TABLE = ["receipt", "person_id", "kind", "path", "line", "item", "before", "after", "reason", "decided_on",
                    "status", "why", "applied_at"]


@dataclass(frozen=True)
class Person:
    """What identifies a requested child in the year's exports (from the registry's row)."""

    atena: str
    household: str | None
    kana: str
    birth: dt.date | None


@dataclass(frozen=True)
class Columns:
    """Where a source keeps what tells whose row it is (column indexes in its header)."""

    person: int | None        # the child's own 宛名番号 (a key column whose pseudonym is person_id)
    household: int | None     # 世帯番号
    kana: int | None
    birth: int | None
    serial: bool = False
    name: int | None = None   # the name in kanji (a row whose birth date cannot be read is known by both names)

    @classmethod
    def of(cls, spec: dict, header: list[str]) -> Columns:
        idx = {h: i for i, h in enumerate(header)}
        found: dict[str, int | None] = {"person": None, "household": None, "kana": None, "birth": None, "name": None}
        serial = False
        for h, c in spec["columns"].items():
            if h not in idx:
                continue
            if c["type"] == "key" and c.get("pseudonym") == "person_id":
                found["person"] = idx[h]
            elif c["type"] == "key" and c.get("pseudonym") == "household_id":
                found["household"] = idx[h]
            elif c["type"] == "kana" and found["kana"] is None:
                found["kana"] = idx[h]
            elif c["type"] == "name" and found["name"] is None:
                found["name"] = idx[h]
            elif c["name"] == "birth_date":
                found["birth"], serial = idx[h], bool(c.get("serial"))
        return cls(**found, serial=serial)

    def cell(self, row: list[str], i: int | None) -> str:
        return row[i] if i is not None and i < len(row) else ""

    def atena(self, row: list[str]) -> str | None:
        return normalize_atena(self.cell(row, self.person)) if self.person is not None else None

    def household_of(self, row: list[str]) -> str | None:
        return normalize_atena(self.cell(row, self.household)) if self.household is not None else None

    def names(self, row: list[str]) -> tuple[str, str] | None:
        """(reading, name) of a row, for a row whose birth date cannot be read."""
        if self.kana is None or self.name is None:
            return None
        return reading(self.cell(row, self.kana)), normalize_name(self.cell(row, self.name)).replace(" ", "")

    def reading(self, row: list[str]) -> tuple[str, dt.date | None] | None:
        if self.kana is None or self.birth is None:
            return None
        return reading(self.cell(row, self.kana)), parse_date(self.cell(row, self.birth), self.serial)


def _rows_of(table: CellTable, cols: Columns, atenas: set[str], kanas: set[str]) -> list[int]:
    """The rows that may be about one of these children, for the exact test row by row: by 宛名番号 where the source
    has it, else by reading where it has no household number; and every row of another width (its cells are held
    apart from the columns). Each distinct value is tested with the same functions as the exact test."""
    found = np.zeros(len(table), dtype=bool)
    if cols.person is not None:
        keys = map_unique(table.column(cols.person), lambda v: normalize_atena(v) if isinstance(v, str) else None)
        found = keys.isin(atenas).to_numpy(dtype=bool)
    elif cols.household is None and cols.kana is not None and kanas:
        seen = map_unique(table.column(cols.kana), lambda v: reading(v) if isinstance(v, str) else None)
        found = seen.isin(kanas).to_numpy(dtype=bool)
    return sorted({int(i) for i in np.flatnonzero(found)} | set(table.odd))


def reading(kana: str) -> str:
    """A reading as compared here: katakana, no spaces."""
    return to_katakana(nfkc(kana)).replace(" ", "")


@dataclass(frozen=True)
class RightsMark:
    """A place in :class:`YearRights`' record of what applying the requests did."""

    applied: int
    problems: int
    stopped_rows: int


@dataclass(frozen=True)
class RightsDone:
    """What applying the requests did after a :class:`RightsMark`: the rows recorded, and the rows left out."""

    applied: list[dict]
    problems: list[Problem]
    stopped_rows: int


@dataclass
class YearRights:
    """The requests that concern one fiscal year's exports, and what applying them did."""

    fy: int
    key: bytes
    corrections: list[Correction]
    opinions: list[Correction]
    stops: list[Stop]
    problems: list[Problem]
    people: dict[str, Person] = field(default_factory=dict)
    applied: list[dict] = field(default_factory=list)
    stopped_rows: int = 0

    @classmethod
    def of(cls, requests: Requests, fy: int, key: bytes, today: dt.date) -> YearRights:
        mine = [c for c in requests.corrections if c.fy == fy]
        return cls(fy, key, [c for c in mine if not c.is_opinion], [c for c in mine if c.is_opinion],
                   [s for s in requests.stops if s.active(today)], list(requests.problems))

    @property
    def wanted(self) -> set[str]:
        return {c.atena for c in self.corrections} | {s.atena for s in self.stops}

    @property
    def stopped_children(self) -> set[str]:
        """The 宛名番号 of every child under a stop of everything (全部)."""
        return {s.atena for s in self.stops if s.paths is None}

    def learn_registry(self, spec: dict, table: CellTable) -> None:
        """The requested children as the registry holds them (their household, reading and birth date)."""
        wanted = self.wanted
        if not wanted:
            return
        cols = Columns.of(spec, table.header)
        for i in _rows_of(table, cols, wanted, set()):
            r = table.row(i)
            if r is None:
                continue
            a = cols.atena(r)
            if a in wanted and a not in self.people:
                kana, birth = cols.reading(r) or ("", None)
                self.people[a] = Person(a, cols.household_of(r), kana, birth)

    def _belongs(self, cols: Columns, row: list[str], person: Person) -> bool:
        if cols.person is not None:
            return cols.atena(row) == person.atena
        if cols.household is not None:
            return person.household is not None and cols.household_of(row) == person.household
        seen = cols.reading(row)
        return seen is not None and bool(person.kana) and seen == (person.kana, person.birth)

    def _is_childs(self, cols: Columns, row: list[str], person: Person) -> bool:
        """A row that is about the child itself (never a household's or a parent's row)."""
        if cols.person is not None:
            return cols.atena(row) == person.atena
        if cols.household is not None:
            return False
        seen = cols.reading(row)
        return seen is not None and bool(person.kana) and seen == (person.kana, person.birth)

    def drop(self, spec: dict, table: CellTable) -> set[int]:
        """Indexes of the rows of children under a stop that covers this source (left out like broken rows)."""
        stops = [s for s in self.stops if s.covers(spec["path"])]
        if not stops:
            return set()
        cols = Columns.of(spec, table.header)
        people = [self.people.get(s.atena) or Person(s.atena, None, "", None) for s in stops]
        near = _rows_of(table, cols, {x.atena for x in people}, {x.kana for x in people if x.kana})
        out = {i for i in near if (r := table.row(i)) is not None and any(self._is_childs(cols, r, x) for x in people)}
        self.stopped_rows += len(out)
        return out

    def correct(self, spec: dict, table: CellTable, skip: set[int] = frozenset()) -> None:
        """Apply the year's corrections of this source to its cells, or set them aside with the reason (``skip``:
        rows left out under a stop)."""
        mine = [c for c in self.corrections if c.path == spec["path"]]
        if not mine:
            return
        cols = Columns.of(spec, table.header)
        read = {h for h, c in spec["columns"].items() if c.get("allowed", True)}
        for c in mine:
            i = table.index_of_line(c.line)
            why = self._why_not(c, cols, table, i, read, skip)
            if why:
                self._set_aside(c, why)
                continue
            table.set_cell(i, table.header.index(c.item), c.after)
            self.applied.append(self._row(c, APPLIED, ""))

    def _why_not(self, c: Correction, cols: Columns, table: CellTable, i: int | None, read: set, skip: set[int]) -> str:
        person = self.people.get(c.atena)
        if i is not None and i in skip:
            return "利用停止中の記録のため、読み込んでいません"
        if person is None:
            return "宛名番号がこの年度の住民基本台帳にありません"
        if i is None:
            return "その行がエクスポートにありません (行番号は見出しを 1 行目として数えます)"
        row = table.row(i)
        header = table.header
        if row is None:
            return "その行は読めない行として隔離されています"
        if len(row) != len(header):
            return "その行は列数がヘッダーと一致しないため隔離されています"
        if c.item not in header:
            return "項目がエクスポートの見出しにありません"
        if c.item not in read:
            return "利用目的外のため読み込んでいない列です (訂正しなくても使われていません)"
        if not self._belongs(cols, row, person):
            return "その行はこの宛名番号のこどもの記録ではありません"
        if nfkc(row[header.index(c.item)]) != nfkc(c.before):
            return "訂正前の値がエクスポートと違います (業務システムで既に直っている可能性)"
        return ""

    def _set_aside(self, c: Correction, why: str) -> None:
        self.problems.append(Problem("", c.file_row, c.receipt, c.item, why, c.path, c.line))
        self.applied.append(self._row(c, SET_ASIDE, why))

    def _row(self, c: Correction, status: str, why: str) -> dict:
        return {"receipt": c.receipt, "person_id": pseudonym(self.key, c.atena), "kind": "意見" if c.is_opinion else "訂正",
                "path": c.path, "line": c.line, "item": c.item, "before": c.before, "after": c.after, "reason": c.reason,
                "decided_on": pd.Timestamp(c.decided), "status": status, "why": why, "applied_at": pd.NaT}

    def finish(self, previous: pd.DataFrame | None, now: dt.datetime) -> pd.DataFrame:
        """The year's corrections (applied and set aside) and opinions, each applied one keeping the time it was
        first applied (the papers given before then carried the old value: 第97条)."""
        for c in self.opinions:
            self.applied.append(self._row(c, RECORDED, ""))
        for c in self.corrections:  # a correction of a source the registry does not read this year
            if not any(r["receipt"] == c.receipt and r["line"] == c.line and r["item"] == c.item for r in self.applied):
                self._set_aside(c, "その資料はこの年度に読み込んでいません")
        t = pd.DataFrame(self.applied, columns=CORRECTION_TABLE)
        if t.empty:
            return t
        first = {}
        if previous is not None and len(previous):
            done = previous[previous["status"] == APPLIED]
            first = {(r.receipt, r.path, r.line, r.item): r.applied_at for r in done.itertuples()}
        stamp = pd.Timestamp(now)
        t["applied_at"] = [first.get((r.receipt, r.path, r.line, r.item), stamp) if r.status == APPLIED else pd.NaT
                           for r in t.itertuples()]
        t["line"] = t["line"].astype("Int64")
        return t

    def mark(self) -> RightsMark:
        """Where the record of what applying the requests did stands now (:meth:`since`)."""
        return RightsMark(len(self.applied), len(self.problems), self.stopped_rows)

    def since(self, mark: RightsMark) -> RightsDone:
        """What applying the requests did after ``mark``."""
        return RightsDone(self.applied[mark.applied:], self.problems[mark.problems:], self.stopped_rows - mark.stopped_rows)

    def add(self, done: RightsDone) -> None:
        """Take in what a copy of this year's requests did to other sources (:meth:`since`, in a second process)."""
        self.applied += done.applied
        self.problems += done.problems
        self.stopped_rows += done.stopped_rows

    def stopped_pseudonyms(self) -> set[str]:
        return {pseudonym(self.key, a) for a in self.stopped_children}
