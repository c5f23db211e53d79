"""What staff fill in and save back — the meeting's decisions (the extraction list), the case records (the case
template), the answers to the 名寄せ review queue — read as they were saved: the workbook itself (.xlsx, what Excel
writes when one just presses save) or a sheet saved as CSV (UTF-8 or Shift_JIS).

The sheet is found by its header (the row holding every column the reader needs, within the first rows of a sheet);
blank and comma-only rows are skipped; every row carries the row number Excel shows (and its sheet), so a quarantine
line can be found in the file at once. Where a year holds both a .csv and an .xlsx of the same kind, one line asks
which to keep.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..params import Params
from ..text.normalize import nfkc
from ..text.reading import SourceError, decode, read_rows
from . import datasets

HEADER_SEARCH_ROWS = 10   # the header may sit below a title row or two
ROW_LINES = 50            # a cell staff typed may hold line breaks (Alt+Enter)


@dataclass
class SavedTable:
    """One saved sheet: its header and rows as text, each row with the row number Excel shows."""

    file: Path
    sheet: str                     # the worksheet's name ("" for a CSV file)
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    broken: list[tuple[int, str]] = field(default_factory=list)   # rows of a CSV file that could not be read

    def records(self, columns: list[str]) -> list[tuple[int, dict[str, str]]]:
        """(row number, {column: text}) for the named columns (absent ones empty)."""
        idx = {c: self.header.index(c) for c in columns if c in self.header}
        return [(n, {c: (r[i] if i < len(r) else "") for c, i in idx.items()}) for n, r in zip(self.numbers, self.rows,
                                                                                               strict=True)]


def text(v) -> str:
    """An Excel cell as the text staff see: dates as YYYY-MM-DD, whole numbers without ``.0``, blanks empty."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if v.time() == dt.time() else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class _MissingColumns(Exception):
    def __init__(self, missing: list[str]):
        super().__init__("・".join(missing))
        self.missing = missing


def _missing(required: list[str], candidates: list[list[str]]) -> list[str]:
    """The required columns absent from the header that holds most of them."""
    return min(([c for c in required if c not in names] for names in candidates), key=len, default=list(required))


def _xlsx(f: Path, required: list[str]) -> SavedTable:
    from openpyxl import load_workbook

    wb = load_workbook(f, read_only=True, data_only=True)
    seen: list[list[str]] = []
    try:
        for ws in wb.worksheets:
            out = None
            for n, values in enumerate(ws.iter_rows(values_only=True), 1):
                cells = [text(v) for v in values]
                if out is None:
                    if n > HEADER_SEARCH_ROWS:
                        break
                    names = [nfkc(c).strip() for c in cells]
                    seen.append(names)
                    if all(c in names for c in required):
                        out = SavedTable(f, ws.title, names)
                    continue
                if any(c.strip() for c in cells):
                    out.rows.append(cells)
                    out.numbers.append(n)
            if out is not None:
                return out
    finally:
        wb.close()
    raise _MissingColumns(_missing(required, seen))


def _csv(f: Path, required: list[str]) -> SavedTable:
    txt, _, _ = decode(f.read_bytes(), "utf-8-sig")
    t = read_rows(txt, ROW_LINES)
    header = [h.strip() for h in t.header]
    if not all(c in header for c in required):
        raise _MissingColumns(_missing(required, [header]))
    return SavedTable(f, "", header, t.rows, t.numbers, t.broken)


def read_saved(f: Path, required: list[str], what: str, template: str) -> SavedTable:
    """A file staff saved (``what``: 会議の判断; ``template``: the file they filled in), or one Japanese line naming
    the file and what to do."""
    try:
        return _xlsx(f, required) if f.suffix.lower() == ".xlsx" else _csv(f, required)
    except _MissingColumns as e:
        raise InputError(f"{what}のファイルに必要な列がありません: {e} ({f})。{template} の列 {'・'.join(required)} を"
                         "残したまま保存し直してください") from None
    except SourceError as e:
        raise InputError(f"{what}のファイルを読めません: {f}: {e} ({template} をそのまま保存し直してください)") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:  # not a workbook (a renamed file, a damaged save)
        raise InputError(f"{what}のファイルを開けません: {f} ({type(e).__name__}: {e})。{template} を Excel で開き、"
                         "そのまま保存し直してください") from None


def saved_file(p: Params, kind: str, what: str) -> Path | None:
    """The one file staff saved for ``kind`` this year (None: none yet). Both a .csv and an .xlsx: one line asks
    which to keep."""
    files = datasets.saved_files(p, kind)
    if len(files) > 1:
        raise InputError(f"{what}のファイルが {len(files)} つあります ({'・'.join(str(f) for f in files)})。使う方を残し、"
                         "もう一方を別のフォルダへ移してから、もう一度実行してください")
    return files[0] if files else None
