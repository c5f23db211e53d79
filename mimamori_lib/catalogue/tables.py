"""The processed tables of a year: a source's table and the restricted identity table (light: no validation
machinery is imported to read them)."""

from __future__ import annotations

import pandas as pd

from ..params import Params
from . import datasets
from .registry import registry_path


def read_table(p: Params, source: str, fy: int | None = None) -> pd.DataFrame | None:
    """A processed source table of the params' year (or of year ``fy``; ``None`` if that source was not loaded)."""
    return datasets.read(p, f"table:{source}", fy=fy)


def read_identity(p: Params, columns: list[str] | None = None, sources: list[str] | None = None,
                  filters: list | None = None) -> pd.DataFrame:
    """The restricted identity table (linkage and internal reports only); optionally some columns, some sources,
    other row ``filters`` (as pyarrow takes them)."""
    flt = [("source", "in", sources)] if sources else []
    return datasets.read_parquet(datasets.path(p, "identity"), columns=columns, filters=[*flt, *(filters or [])] or None)


def registry_people(p: Params, ident: pd.DataFrame) -> pd.DataFrame:
    """The resident registry's rows of an identity frame, one per person (the people every other record is linked
    to)."""
    return ident[(ident["source"] == registry_path(p)).to_numpy()].drop_duplicates("person_id")


def read_people(p: Params, columns: list[str] | None = None, person_ids=None, households=None) -> pd.DataFrame:
    """The resident registry's rows of the identity table, one per person: some columns, some children
    (``person_ids``) or whole households — read with filters, never the whole table (over a million rows at 500,000
    children)."""
    flt = []
    if person_ids is not None:
        flt.append(("person_id", "in", sorted(set(person_ids)) or ["-"]))
    if households is not None:
        flt.append(("household_id", "in", sorted(set(households) - {None}) or ["-"]))
    people = read_identity(p, columns=columns, sources=[registry_path(p)], filters=flt or None)
    return people.drop_duplicates("person_id")
