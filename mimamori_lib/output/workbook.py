"""Workbooks staff and schools open, fill in and print (extraction list, review queue, hearing forms, hand-over
papers, case template, follow-up, the records): every cell goes through
:func:`mimamori_lib.output.spreadsheet.append_row` (text is never a formula), and every sheet prints through one
helper (:func:`with_notes`): A4 landscape, one page wide, the header row on every page, a frozen header, column
widths from the content (long text wrapped), a header and footer with the paper's title, its recipient, the fiscal
year in 令和, the date written, 「n / N」 and 「取扱注意 (個人情報)」; dates as Excel dates; the explanation sheet first,
addressed to the recipient by name, with the reply deadline and the contact, and no path of the server."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

import pandas as pd

from ..text.japanese import wareki_date, wareki_fy
from .spreadsheet import append_row, cell  # noqa: F401 (cell: part of this module's interface)

PRIVATE_NOTE = "このファイルは個人を特定できる情報を含みます。庁内の定められた場所以外に保存しないでください。"
PRIVATE_MARK = "取扱注意 (個人情報)"
NOTES = "説明"
DATE_FORMAT = "yyyy/mm/dd"
MIN_WIDTH, MAX_WIDTH, WRITE_IN_WIDTH = 5, 32, 22   # column widths (characters): long text wraps within MAX_WIDTH
LINE_HEIGHT = 14                                  # points per line of wrapped text


@dataclass(frozen=True)
class PrintedAs:
    """What a paper is when printed: its title, to whom it goes, the fiscal year and the day it was written."""

    title: str
    to: str = ""                     # the recipient (a school's name, 支援担当者会議の構成員, …)
    fy: int | None = None
    written: dt.date | None = None   # default: today
    private: bool = True             # names children: 「取扱注意 (個人情報)」 on every page
    deadline: dt.date | None = None  # for a paper that comes back (a hearing form): answer by this day
    contact: str = ""                # who to ask, and where it goes back

    @property
    def day(self) -> dt.date:
        return self.written or dt.date.today()


def table_sheet(table: pd.DataFrame, title: str):
    """A new workbook whose first sheet (``title``) holds ``table`` under its header. Returns (workbook, sheet, column
    number by name, last row to validate: at least row 2)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title
    append_row(ws, list(table.columns))
    for r in table.itertuples(index=False):
        append_row(ws, r)
    return wb, ws, {c: i + 1 for i, c in enumerate(table.columns)}, max(len(table) + 1, 2)


def drop_down(ws, column: int, values: list[str] | None, rows: int, prompt: str = "", strict: bool = False) -> None:
    """A drop-down list (``values``) or, with ``values=None``, a date check on a column of a sheet staff fill in,
    from row 2 to ``rows``, with an input message (``prompt``). Not ``strict``: a hint, not an error, so that several
    types separated by ・ can still be typed."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = (DataValidation(type="list", formula1=f'"{",".join(values)}"', allow_blank=True) if values is not None
          else DataValidation(type="date", allow_blank=True))
    dv.showErrorMessage = strict
    if prompt:
        dv.promptTitle, dv.prompt, dv.showInputMessage = "入力のしかた", prompt[:250], True
    ws.add_data_validation(dv)
    letter = get_column_letter(column)
    dv.add(f"{letter}2:{letter}{rows}")


def _width(v) -> int:
    """How wide a value prints: East Asian wide characters count twice."""
    if v is None:
        return 0
    if isinstance(v, dt.date | dt.datetime):
        return 10
    return max((sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in str(v).split("\n")),
               default=0)


def fit_columns(ws, header_row: int = 1, write_in: tuple[str, ...] = (), row_height: float | None = None) -> None:
    """Column widths from the content (header and values), long text wrapped at the top of its cell, dates as Excel
    dates; ``write_in``: columns people write in by hand (wide, and rows ``row_height`` points tall)."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    # the sheet's extent once: openpyxl counts every cell for ws.max_row, ws.max_column and ws[i]
    rows = list(ws.iter_rows(min_row=header_row, max_row=max(ws.max_row, header_row), max_col=ws.max_column))
    aligned = {wrap: Alignment(wrap_text=wrap, vertical="top") for wrap in (False, True)}  # one style, many cells
    for j, name in enumerate(c.value for c in rows[0]):
        letter = get_column_letter(j + 1)
        cells = [row[j] for row in rows]
        longest = max((_width(c.value) for c in cells), default=0)
        width = WRITE_IN_WIDTH if name in write_in else min(max(longest + 2, MIN_WIDTH), MAX_WIDTH)
        ws.column_dimensions[letter].width = width
        wrap = name in write_in or longest + 2 > MAX_WIDTH
        for i, c in enumerate(cells):
            if isinstance(c.value, dt.date | dt.datetime):
                c.number_format = DATE_FORMAT
            c.alignment = aligned[wrap or i == 0]
    fit_rows(ws, header_row, row_height or 0)


def fit_rows(ws, first: int = 1, at_least: float = 0) -> None:
    """Each row tall enough for its wrapped text (a spreadsheet does not grow a row it did not lay out itself), and
    at least ``at_least`` points (room to write by hand)."""
    from openpyxl.utils import get_column_letter

    last_column = ws.max_column
    widths = {j: (ws.column_dimensions[get_column_letter(j)].width or 10) for j in range(1, last_column + 1)}
    for i, row in enumerate(ws.iter_rows(min_row=max(first, 1), max_row=ws.max_row, max_col=last_column), max(first, 1)):
        lines = 1
        for c in row:
            if c.value is not None and c.alignment is not None and c.alignment.wrap_text:
                per_line = max(int(widths.get(c.column, 10)) - 1, 1)
                lines = max(lines, sum(-(-_width(part) // per_line) or 1 for part in str(c.value).split("\n")))
        height = max(at_least if i > first else 0, LINE_HEIGHT * lines + 4)
        if lines > 1 or height > LINE_HEIGHT + 4:
            ws.row_dimensions[i].height = height


def _escape(text: str) -> str:
    return str(text).replace("&", "&&")


def printable(ws, how: PrintedAs, header_row: int = 1, landscape: bool = True) -> None:
    """A4, one page wide, the header row on every page, a frozen header, and the paper's header and footer."""
    from openpyxl.worksheet.page import PageMargins

    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.75, bottom=0.6, header=0.3, footer=0.3)
    if header_row:
        ws.print_title_rows = f"{header_row}:{header_row}"
        if ws.freeze_panes is None:
            ws.freeze_panes = f"A{header_row + 1}"
    year = f"{wareki_fy(how.fy)}　" if how.fy else ""
    parts = {(ws.oddHeader, "left"): how.title, (ws.oddHeader, "center"): f"{how.to} あて" if how.to else "",
             (ws.oddHeader, "right"): f"{year}作成 {wareki_date(how.day)}",
             (ws.oddFooter, "left"): PRIVATE_MARK if how.private else "", (ws.oddFooter, "right"): how.title}
    for (where, side), text in parts.items():
        if text:  # an empty part would be written as a bare code that shifts the next one (openpyxl)
            getattr(where, side).text = _escape(text)
    ws.oddFooter.center.text = "&P / &N"


def add_notes(wb, notes: list[str], how: PrintedAs | None) -> None:
    """The explanation sheet (説明), first: addressed to the recipient by name, then one line per row, the deadline
    and the contact (never a path of the server)."""
    from openpyxl.styles import Alignment, Font

    info = wb.create_sheet(NOTES, 0)
    lines = list(notes)
    if how is not None:
        head = [f"{how.to} 御中" if how.to else "", how.title + (f" ({wareki_fy(how.fy)})" if how.fy else "")]
        tail = [f"回答の期限: {wareki_date(how.deadline)}" if how.deadline else "",
                f"問い合わせ・返送先: {how.contact}" if how.contact else "",
                f"作成日: {wareki_date(how.day)}"]
        lines = [x for x in head if x] + [""] + lines + [""] + [x for x in tail if x]
    for line in lines:
        append_row(info, [line])
    info.column_dimensions["A"].width = 70  # within an A4 portrait page as LibreOffice and Excel draw it
    for row in info.iter_rows():
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    fit_rows(info)
    if how is not None:
        info["A1"].font = Font(bold=True, size=12)
        printable(info, how, header_row=0, landscape=False)
    wb.active = 1 if len(wb.worksheets) > 1 else 0  # it opens on the table (the sheet a CSV save writes)


def with_notes(wb, notes: list[str], how: PrintedAs):
    """The explanation sheet first, and every sheet of the workbook printable (:func:`printable`, :func:`fit_columns`
    for a sheet not set up yet); returns the function that saves it (for
    :func:`mimamori_lib.catalogue.datasets.write`, which saves it privately and renames it into place)."""
    if how is not None:
        for ws in wb.worksheets:
            if ws.print_title_rows is None:
                fit_columns(ws)
                printable(ws, how)
    add_notes(wb, notes, how)
    return wb.save
