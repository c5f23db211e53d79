"""外字 and variation sequences in names and addresses.

Standardised 住民記録 systems write names in 行政事務標準文字 (MJ): as UTF-8 with ideographic variation sequences
(葛 + U+E0100), or, in older exports, as private-use code points (外字, U+E000–F8FF) from the city's own table. The
city's table (``ingest.gaiji``: CSV with コード, 文字, optional 読み) turns a private-use character into its standard
character at ingestion, for display and matching alike; one without an entry is kept, counted per source and named in
the run's notices, and shown as 〓 on the papers staff read (a blank box tells them nothing). Variation selectors are
kept for display and folded for matching (:func:`fold_selectors`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .normalize import map_unique, map_unique_text
from .reading import SourceError, decode, read_rows

PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
SUBSTITUTE = "〓"  # げた: the printer's mark for a character that cannot be set


def load_table(path: Path | None) -> dict[str, str]:
    """The city's 外字 table: private-use character → standard character (or substitute). Empty without one."""
    if path is None:
        return {}
    return dict(_load(str(path), Path(path).stat().st_mtime if Path(path).exists() else 0.0))


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> tuple[tuple[str, str], ...]:
    f = Path(path)
    if not f.is_file():
        raise InputError(f"外字の対応表が見つかりません: {f} (params の ingest.gaiji を確認してください)")
    try:
        t = read_rows(decode(f.read_bytes(), "utf-8-sig")[0])
    except SourceError as e:
        raise InputError(f"外字の対応表を読めません: {f}: {e}") from None
    if "コード" not in t.header or "文字" not in t.header:
        raise InputError(f"外字の対応表に列 コード・文字 がありません: {f} (見つかった列: {'・'.join(t.header)})")
    ci, wi = t.header.index("コード"), t.header.index("文字")
    out = []
    for n, row in zip(t.numbers, t.rows, strict=True):
        code = row[ci].strip().upper().removeprefix("U+")
        try:
            ch = chr(int(code, 16))
        except ValueError:
            raise InputError(f"外字の対応表 {f} の {n} 行目: コード {row[ci]!r} が読めません (例: U+E000)") from None
        if not PRIVATE_USE.fullmatch(ch):
            raise InputError(f"外字の対応表 {f} の {n} 行目: {row[ci]} は私用領域 (U+E000〜F8FF) の文字ではありません")
        out.append((ch, row[wi].strip()))
    return tuple(out)


def apply(values: pd.Series, table: dict[str, str]) -> tuple[pd.Series, int]:
    """Names or addresses with the table's characters replaced; also the number of private-use characters left
    (each distinct value looked at once; text stays Arrow-backed)."""
    s = values if values.dtype == "string[pyarrow]" else values.astype("string[pyarrow]")
    if table:
        trans = str.maketrans(table)
        s = map_unique_text(s, lambda v: v.translate(trans) if isinstance(v, str) else None)
    left = int(map_unique(s, lambda v: len(PRIVATE_USE.findall(v)) if isinstance(v, str) else 0).sum()) if len(s) else 0
    return s, left


def fold_selectors(v: str | None) -> str | None:
    """A name for matching: variation selectors removed (葛 + U+E0100 matches 葛)."""
    return SELECTORS.sub("", v) if isinstance(v, str) else v


def displayable(v):
    """Text for a paper staff read: a private-use character nobody mapped shown as 〓."""
    return PRIVATE_USE.sub(SUBSTITUTE, v) if isinstance(v, str) else v
