"""The processed tables of a year (light: no validation machinery is imported to read them)."""

from __future__ import annotations

import pandas as pd

from ..params import Params


def read_table(p: Params, source: str) -> pd.DataFrame | None:
    """A processed source table of the params' year (``None`` if that source was not loaded)."""
    f = p.processed / f"{source}.parquet"
    return pd.read_parquet(f) if f.exists() else None


def read_identity(p: Params) -> pd.DataFrame:
    """The restricted identity table (linkage and internal reports only)."""
    return pd.read_parquet(p.processed / "restricted" / "identity.parquet")
