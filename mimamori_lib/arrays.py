"""Array helpers where pandas is slow: membership tests on Arrow-backed strings (pandas 3's default string dtype
tests membership element by element in Python; pyarrow's compute kernel is 20–30× faster)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def isin(values: pd.Series | pd.Index, allowed: Iterable) -> np.ndarray:
    """Boolean mask: which of ``values`` are in ``allowed`` (missing values are not)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = values.array if isinstance(values, pd.Series | pd.Index) else values
    if isinstance(allowed, pd.Series | pd.Index):
        allowed_arr = allowed.dropna().array
    else:
        allowed_arr = [a for a in dict.fromkeys(allowed) if a is not None and not (isinstance(a, float) and np.isnan(a))]
    try:
        left = pa.array(arr, from_pandas=True)
        right = pa.array(allowed_arr, type=left.type, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pd.Series(values).isin(list(allowed_arr)).to_numpy()
    return pc.fill_null(pc.is_in(left, value_set=right), False).to_numpy(zero_copy_only=False)


def release_unused_memory() -> None:
    """Give back to the system the memory Arrow's allocator keeps after its arrays are freed (hundreds of MB after a
    big city's text has been worked on), before a step's next phase needs memory of its own (DuckDB's)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
