"""An export's rows as columns: the same rows and numbering as :func:`.reading.entries`, held in Arrow.

Ingestion at a big city's scale cannot keep every cell as a Python string (a registry of a million rows is about a
gigabyte that way). Here the rows are read in chunks and each chunk's cells go into one Arrow array per column, so
the Python objects of only one chunk are alive at a time. The few rows that are not regular — broken (a quote that
never closed) or with a different number of cells than the header — keep their place in the numbering and are held
aside: a broken row as its reason, a row of another width as its cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .reading import blank_row, delimiter, header_of, split_rows

CHUNK_ROWS = 65_536


@dataclass
class CellTable:
    """An export's rows in file order as ingestion numbers them (row index ``i`` is row ``i + 1``).

    ``columns[j]`` holds header column ``j`` of every row, missing where the row is broken or of another width;
    ``lines[i]`` is the line row ``i`` starts on (the header is line 1); ``broken`` maps a row that could not be read
    to why; ``odd`` maps a row whose number of cells differs from the header's to its cells."""

    header: list[str]
    columns: list[pa.Array]
    lines: np.ndarray
    broken: dict[int, str]
    odd: dict[int, list[str]]

    def __len__(self) -> int:
        return len(self.lines)

    def row(self, i: int) -> list[str] | None:
        """Row ``i``'s cells as received (``None`` for a broken row)."""
        if i in self.broken:
            return None
        if i in self.odd:
            return self.odd[i]
        return [c[i].as_py() for c in self.columns]

    def column(self, j: int) -> pd.Series:
        """Header column ``j`` as text (Arrow-backed), one value per row."""
        return pd.Series(pd.arrays.ArrowStringArray(self.columns[j]), dtype="string[pyarrow]")

    def index_of_line(self, line: int) -> int | None:
        """The row that starts on ``line``, if one does."""
        i = int(np.searchsorted(self.lines, line))
        return i if i < len(self.lines) and self.lines[i] == line else None

    def set_cell(self, i: int, j: int, value: str) -> None:
        """Replace one cell of a regular row (a family's correction), keeping the row's place."""
        if i in self.broken or i in self.odd:
            raise ValueError(f"row {i + 1} is not a regular row")
        mask = np.zeros(len(self.lines), dtype=bool)
        mask[i] = True
        self.columns[j] = pc.replace_with_mask(self.columns[j], pa.array(mask), pa.array([value], pa.large_string()))


def cell_table(text: str, row_lines: int = 1, chunk_rows: int = CHUNK_ROWS) -> CellTable:
    """CSV (or tab-separated) text → :class:`CellTable` (blank and comma-only rows left out, as everywhere)."""
    rows: Iterator = split_rows(text, delimiter(text), row_lines)
    header = header_of(rows)
    width = len(header)
    empty = [None] * width
    chunks: list[list[pa.Array]] = [[] for _ in header]
    lines: list[int] = []
    broken: dict[int, str] = {}
    odd: dict[int, list[str]] = {}
    chunk: list[list[str] | list[None]] = []

    def flush() -> None:
        if not chunk:
            return
        for j, values in enumerate(zip(*chunk, strict=True)):
            chunks[j].append(pa.array(values, type=pa.large_string()))
        chunk.clear()

    for line, cells, problem in rows:
        if cells is None:
            broken[len(lines)] = problem
            chunk.append(empty)
        elif not (cells and cells[0] and not cells[0].isspace()) and blank_row(cells):  # (the first cell tells, mostly)
            continue
        elif len(cells) != width:
            odd[len(lines)] = cells
            chunk.append(empty)
        else:
            chunk.append(cells)
        lines.append(line)
        if len(chunk) >= chunk_rows:
            flush()
    flush()
    columns = [pa.concat_arrays(c) if c else pa.array([], pa.large_string()) for c in chunks]
    return CellTable(header, columns, np.asarray(lines, dtype=np.int64), broken, odd)

