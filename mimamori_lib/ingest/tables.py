"""The processed tables of a year (light: no validation machinery is imported to read them).

Text columns are read as Arrow-backed strings: the same ``string`` dtype as pandas' default, at a fraction of the
memory of Python string objects (the identity table of 500,000 children: 0.4 GB instead of 2.5 GB).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..params import Params


def read_parquet(f: Path, columns: list[str] | None = None, filters: list | None = None) -> pd.DataFrame:
    """A Parquet file with its text as Arrow-backed strings (``columns`` and row ``filters`` as pyarrow takes them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(f, columns=columns, filters=filters)
    strings = pd.StringDtype("pyarrow")
    return t.to_pandas(types_mapper={pa.string(): strings, pa.large_string(): strings}.get)


def read_table(p: Params, source: str, fy: int | None = None) -> pd.DataFrame | None:
    """A processed source table of the params' year (or of year ``fy``; ``None`` if that source was not loaded)."""
    from .. import datasets

    return datasets.read(p, f"table:{source}", fy=fy)


def read_identity(p: Params, columns: list[str] | None = None, sources: list[str] | None = None,
                  filters: list | None = None) -> pd.DataFrame:
    """The restricted identity table (linkage and internal reports only); optionally some columns, some sources,
    other row ``filters`` (as pyarrow takes them)."""
    from .. import datasets

    flt = [("source", "in", sources)] if sources else []
    return read_parquet(datasets.path(p, "identity"), columns=columns, filters=[*flt, *(filters or [])] or None)
