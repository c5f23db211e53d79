"""Bytes as delivered → text and rows: the declared encoding, a BOM, or the other Japanese encoding (noted)."""

from __future__ import annotations

import csv
import io

from ..normalize import nfkc

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


def read_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """CSV (or tab-separated) text → (header, data rows). Handles CRLF/LF and quoted fields."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)") from None
    if not any(h.strip() for h in header):
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)")
    return [nfkc(h) for h in header], list(reader)




def read_filled_in(f, required: list[str], what: str, sheet: str) -> tuple[list[str], list[list[str]]]:
    """A file staff filled in and saved as CSV (the meeting's decisions, the case records): (header, rows), or one
    Japanese line naming the file and how to save it again (``what``: 会議の判断; ``sheet``: the file they filled in)."""
    from ..errors import InputError

    try:
        text, _, _ = decode(f.read_bytes(), "utf-8-sig")
        header, rows = read_rows(text)
    except SourceError as e:
        raise InputError(f"{what}のファイルを読めません: {f}: {e} ({sheet} を CSV (UTF-8) で保存し直してください)") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{what}のファイルに必要な列がありません: {'・'.join(missing)} ({f})。{sheet} の"
                         f"列 {'・'.join(required)} を残したまま保存し直してください")
    return header, rows
