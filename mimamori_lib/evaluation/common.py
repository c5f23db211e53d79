"""Helpers shared by the evaluation's modules."""

from __future__ import annotations

import pandas as pd

from ..ingest.tables import read_parquet
from ..params import Params


def read_processed(p: Params, name: str) -> pd.DataFrame | None:
    """A processed table of the year (Parquet or CSV), ``None`` when the step that writes it has not run."""
    f = p.processed / name
    if not f.exists():
        return None
    return read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f, encoding="utf-8-sig", keep_default_na=False)
