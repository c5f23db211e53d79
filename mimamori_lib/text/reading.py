"""Bytes as delivered → text and rows: the declared encoding, a BOM, or the other Japanese encoding (noted)."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from .normalize import nfkc

ENCODINGS = {"cp932": "cp932", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8-sig", "shift_jis": "cp932"}
ENCODING_LABEL = {"cp932": "CP932 (Shift_JIS)", "utf-8-sig": "UTF-8", "utf-16": "UTF-16 (Excel の「Unicode テキスト」)"}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class SourceError(Exception):
    """A source that cannot be loaded at all (file missing, empty, undecodable, required column missing)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


def decode(data: bytes, declared: str) -> tuple[str, str, str]:
    """Bytes → text. A BOM decides (UTF-8, or UTF-16 as Excel's 「Unicode テキスト」 saves); otherwise the declared
    encoding, else the other Japanese one. Returns (text, encoding used, note)."""
    declared = ENCODINGS.get(declared.lower(), declared)
    if data.startswith(b"\xef\xbb\xbf"):
        used = "utf-8-sig"
    elif data.startswith(UTF16_BOMS):
        used = "utf-16"
    else:
        used = None
        for enc in dict.fromkeys([declared, "utf-8-sig", "cp932"]):
            try:
                data.decode(enc)
                used = enc
                break
            except UnicodeDecodeError as e:
                err = e
        if used is None:
            pos = err.start
            line = data[:pos].count(b"\n") + 1
            raise SourceError("error", f"文字コードを判別できません (CP932 でも UTF-8 でも読めません): {line} 行目付近")
    try:
        text = data.decode(used)
    except UnicodeDecodeError as e:  # a BOM, but not that encoding after it
        line = data[: e.start].count(b"\n") + 1
        raise SourceError("error", f"{ENCODING_LABEL[used]} の BOM がありますが、そのとおりに読めません: {line} 行目付近") from e
    note = "" if used == declared else f"登録簿では {ENCODING_LABEL.get(declared, declared)} ですが {ENCODING_LABEL[used]} で読みました"
    return text, used, note


def delimiter(text: str) -> str:
    """``,`` for CSV; a tab for tab-separated text (Excel's 「Unicode テキスト」): the header line decides."""
    first = text.split("\n", 1)[0]
    return "\t" if "\t" in first and "," not in first else ","


class _RowTooLong(Exception):
    """A quoted field did not close within the lines a row may span."""


@dataclass(frozen=True)
class Rows:
    """A text table split into rows: the header, the data rows with the line each starts on (1-based, the header
    is line 1), and the rows that could not be read (line, reason). Blank and comma-only rows are left out."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    broken: list[tuple[int, str]]
    numbers: list[int]          # each data row's row number as a spreadsheet shows the file (the header is row 1)


UNCLOSED = "引用符 (\") が閉じていません (この行だけを隔離し、次の行から読み直しました)"
csv.field_size_limit(sys.maxsize)  # no fixed 128 KB limit: a value's length is checked against its column's max_length


def split_rows(text: str, delim: str, row_lines: int = 1) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line, cells, problem) for each row of CSV text. A quote that does not close within ``row_lines`` lines makes
    that one row broken (cells ``None``), and reading resumes on the next line, so a stray quote never swallows the
    rows after it.

    One reader runs over the lines while every row keeps within its lines; the row where that fails (or the reader
    errs), and the last row (which may end inside a quote at the end of the text), are read again one at a time."""
    if '"' not in text:  # nothing can span lines
        for i, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delim), 1):
            yield i, row, ""
        return
    lines = list(io.StringIO(text, newline=""))
    n, start = len(lines), 0
    while start < n:
        reader = csv.reader(map(lines.__getitem__, range(start, n)), delimiter=delim)
        end, pending = 0, None  # where the last row read ends (lines after start); that row, not yet sure
        done = 0                # where the sure rows end
        try:
            for row in reader:
                if reader.line_num - end > row_lines:
                    break
                if pending is not None:
                    yield pending
                    done = end
                pending, end = (start + end + 1, row, ""), reader.line_num
            else:  # the end of the text: the last row is read again, alone
                pending = None
        except csv.Error:
            pass
        if pending is not None:
            yield pending
            done = end
        start = yield from _one_row(lines, start + done, delim, row_lines)


def _one_row(lines: list[str], start: int, delim: str, row_lines: int) -> Iterator[tuple[int, list[str] | None, str]]:
    """The row that starts at ``lines[start]``, read alone: yields it (or why it is broken) and returns where the
    next row starts."""
    n, pos, open_at_end = len(lines), start, False

    def feed() -> Iterator[str]:
        nonlocal pos, open_at_end
        while True:
            if pos - start >= row_lines:
                raise _RowTooLong
            if pos >= n:
                open_at_end = pos > start  # the reader asked for more lines inside a row: a quote never closed
                return
            pos += 1
            yield lines[pos - 1]

    try:
        for row in csv.reader(feed(), delimiter=delim):
            if open_at_end:
                raise _RowTooLong
            yield start + 1, row, ""
            return pos
    except _RowTooLong:
        yield start + 1, None, UNCLOSED
    except csv.Error as e:
        yield start + 1, None, f"CSV として読めません ({e})"
    return start + 1


def blank_row(row: list[str]) -> bool:
    """A row with nothing but spaces (a blank or comma-only line): left out everywhere."""
    return not any(c.strip() for c in row)


def header_of(rows: Iterator[tuple[int, list[str] | None, str]]) -> list[str]:
    """The header: the first row of :func:`split_rows`, NFKC'd (a file without one, or whose first row cannot be
    read, cannot be loaded)."""
    for _line, cells, problem in rows:
        if cells is None:
            raise SourceError("error", f"ヘッダー行を読めません: {problem}")
        if blank_row(cells):
            break
        return [nfkc(h) for h in cells]
    raise SourceError("error", "空のファイルです (ヘッダー行がありません)")


def read_rows(text: str, row_lines: int = 1) -> Rows:
    """CSV (or tab-separated) text → header and rows (CRLF/LF, quoted fields; damage kept to the row it is in)."""
    split = split_rows(text, delimiter(text), row_lines)
    header = header_of(split)
    rows, lines, broken, numbers = [], [], [], []
    for number, (line, cells, problem) in enumerate(split, 2):
        if cells is None:
            broken.append((line, problem))
        elif not blank_row(cells):
            rows.append(cells)
            lines.append(line)
            numbers.append(number)
    return Rows(header, rows, lines, broken, numbers)


@dataclass(frozen=True)
class Entries:
    """An export's rows in file order as ingestion numbers them (row n is ``rows[n - 1]``; a row that could not be
    read is ``None``), with the line each starts on and why a broken row could not be read."""

    header: list[str]
    rows: list[list[str] | None]
    lines: list[int]
    broken: dict[int, str]


def entries(text: str, row_lines: int = 1) -> Entries:
    """:func:`read_rows`, with the broken rows kept in their place (the numbering of rows every step uses)."""
    t = read_rows(text, row_lines)
    both = sorted([*zip(t.lines, t.rows, strict=True), *((line, None) for line, _ in t.broken)], key=lambda e: e[0])
    return Entries(t.header, [r for _, r in both], [line for line, _ in both], dict(t.broken))
