"""The identity a case's text is checked against: the child, every member of the child's household (names,
readings, addresses, 宛名番号, 世帯番号) and the schools the child's linked school records name. Read from the
restricted identity table of the case's year; never logged."""

from __future__ import annotations

import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry
from ..catalogue.tables import read_identity, read_people
from ..judgement.indicators import LINKED
from ..params import Params
from .deidentify import Identity, identity_terms

PEOPLE = ["person_id", "household_id", "name", "family_name", "given_name", "name_kana", "family_kana", "given_kana",
          "address", "atena_no", "setai_no"]


def identities(p: Params, person_ids: list[str]) -> dict[str, Identity]:
    """Per child pseudonym, the terms its case's text must not contain."""
    kids = read_people(p, columns=PEOPLE, person_ids=person_ids)
    households = kids.groupby("person_id")["household_id"].agg(set)
    members = read_people(p, columns=PEOPLE, households=kids["household_id"].dropna().unique())
    by_household = {h: g.to_dict("records") for h, g in members.groupby("household_id")}
    schools = _schools(p, person_ids)
    out = {}
    for pid in person_ids:
        people = kids[kids["person_id"] == pid].to_dict("records")
        for h in households.get(pid, set()):
            people += by_household.get(h, [])
        out[pid] = identity_terms(people, schools.get(pid, []), p.cases.name_min_length, p.cases.kana_min_length)
    return out


def _schools(p: Params, person_ids: list[str]) -> dict[str, list[str]]:
    """The school names of the child's linked school records (every school file)."""
    links = datasets.read(p, "links")
    if links is None:
        return {}
    paths = [s["path"] for s in load_registry(p).values() if s.get("school")]
    lk = links[isin(links["person_id"], person_ids) & isin(links["source"], paths) & isin(links["status"], LINKED)]
    if lk.empty:
        return {}
    ident = read_identity(p, columns=["source", "row", "school"], sources=sorted(set(lk["source"])))
    m = pd.DataFrame(lk[["source", "row", "person_id"]]).merge(ident, on=["source", "row"])
    m = m[m["school"].notna()]
    return m.groupby("person_id")["school"].agg(lambda s: sorted(set(s))).to_dict()
