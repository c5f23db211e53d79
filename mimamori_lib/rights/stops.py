"""Who is under 利用停止 today, as every part of a run needs to know it: the runner (a stop that starts or is lifted
re-runs the years), and the steps that read what staff saved, where a stopped child's rows are left out before
anything is checked or written (an 抽出ID of a stopped child is never written into a quarantine)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from ..errors import UserError
from ..params import Params
from ..privacy.pseudonym import extract_id, key_if_any, pseudonym
from . import requests


@dataclass(frozen=True)
class Stopped:
    """The children under a stop of everything (全部) today: their 宛名番号, pseudonyms and this year's 抽出ID."""

    atena: frozenset[str]
    person_ids: frozenset[str]
    extract_ids: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.atena)


def active(p: Params, today: dt.date | None = None) -> list[requests.Stop]:
    """The stops in force today (a file that cannot be read: none here; ingestion says why)."""
    try:
        reqs = requests.read(p)
    except UserError:
        return []
    day = today or dt.date.today()
    return [s for s in reqs.stops if s.active(day)]


def stops_state(p: Params) -> str:
    """The stops in force today, hashed: what decides the rows a step leaves out of what staff saved."""
    try:
        stops = sorted(repr(s) for s in requests.read(p).stops if s.active(dt.date.today()))
    except UserError as e:
        stops = [str(e)]
    return hashlib.sha256(json.dumps(stops, ensure_ascii=False).encode()).hexdigest()


def year_state(p: Params) -> str:
    """What of the family's requests decides a year's ingestion, hashed for the runner's fingerprint (the manifest
    must not carry a 宛名番号): the year's corrections and opinions, the stops in force today, and the rows that
    could not be used. A correction of another year, or a stop lifted with no file changed, is seen exactly."""
    try:
        reqs = requests.read(p)
    except UserError as e:
        return hashlib.sha256(str(e).encode()).hexdigest()
    today = dt.date.today()
    mine = sorted(repr(c) for c in reqs.corrections if c.fy == p.fiscal_year)
    stops = sorted(repr(s) for s in reqs.stops if s.active(today))
    problems = sorted(repr(x) for x in reqs.problems)
    return hashlib.sha256(json.dumps([mine, stops, problems], ensure_ascii=False).encode()).hexdigest()


def stopped(p: Params) -> Stopped:
    """The children under a stop of everything, with what identifies them in this year's files."""
    atena = frozenset(s.atena for s in active(p) if s.paths is None)
    key = key_if_any(p) if atena else None
    if not atena or key is None:
        return Stopped(atena, frozenset(), frozenset())
    pids = frozenset(pseudonym(key, a) for a in atena)
    return Stopped(atena, pids, frozenset(extract_id(key, p.fiscal_year, x) for x in pids))
