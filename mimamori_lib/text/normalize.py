"""Normalisation of Japanese administrative data: kana, names, variant kanji, era dates, keys, addresses.

Kana width and script use jaconv; Unicode compatibility forms use NFKC. What no library does — variant-kanji
folding, era dates in every municipal form, 宛名番号 repair, address canonical form — is written here.
Every function takes one value and returns the normalised value, or ``None`` when it cannot be read;
``*_series`` variants work on a pandas Series by normalising each distinct value once.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Iterable

import jaconv
import numpy as np
import pandas as pd

from .japanese import ERAS, KANJI_DIGITS, VARIANT_KANJI

_FOLD = str.maketrans(VARIANT_KANJI)
_SPACES = re.compile(r"[\s\u3000]+")
_DASHES = "-‐‑‒–—―−－ｰー─━"


def nfkc(s: str | None) -> str:
    """NFKC with surrounding spaces removed (full-width digits and letters → ASCII, half-width kana → full)."""
    if s is None or (isinstance(s, float) and pd.isna(s)):
        return ""
    return unicodedata.normalize("NFKC", str(s)).strip()


def fold_variants(s: str) -> str:
    """Old or variant kanji → common form (髙橋 → 高橋, 渡邉 → 渡辺). NFKC does not do this."""
    return s.translate(_FOLD)


def to_katakana(s: str | None) -> str:
    """A reading in any kana form → full-width katakana, single spaces (ﾍﾞｯﾌﾟ/べっぷ → ベップ)."""
    t = jaconv.h2z(str(s or ""), kana=True, ascii=False, digit=False)
    t = jaconv.hira2kata(unicodedata.normalize("NFKC", t))
    return _SPACES.sub(" ", t).strip()


def normalize_name(s: str | None) -> str:
    """A kanji (or romaji) name → NFKC, variant kanji folded, single half-width spaces, romaji upper-cased."""
    t = _SPACES.sub(" ", fold_variants(nfkc(s))).strip()
    return t.upper() if t.isascii() else t


def split_name(s: str, known_family: Iterable[str] = ()) -> tuple[str, str]:
    """Split a normalised name into (family, given): at the first space, else after the longest known
    family name that leaves a given name, else (whole, "")."""
    s = s.strip()
    if not s:
        return "", ""
    if " " in s:
        family, given = s.split(" ", 1)
        return family, given.replace(" ", "")
    known = known_family if isinstance(known_family, set | frozenset | dict) else set(known_family)
    for n in range(min(len(s) - 1, 8), 0, -1):
        if s[:n] in known:
            return s[:n], s[n:]
    return s, ""


_ERA_BY_LETTER = {letter: start for _, letter, start in ERAS}
_ERA_BY_KANJI = {kanji: start for kanji, _, start in ERAS}
_RE_ERA_LETTER = re.compile(r"^([MTSHR])\s*(元|\d{1,2})[./\-](\d{1,2})[./\-](\d{1,2})$", re.IGNORECASE)
_RE_ERA_KANJI = re.compile(r"^(明治|大正|昭和|平成|令和)\s*(元|\d{1,2})年\s*(\d{1,2})月\s*(\d{1,2})日?$")
_RE_WEST = re.compile(r"^(\d{4})[/\-.年](\d{1,2})[/\-.月](\d{1,2})日?$")
_RE_WEST8 = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _make_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (its day 60, 29 February 1900, never existed)


@functools.lru_cache(maxsize=1 << 17)  # ingestion reads a column's dates three times: its type, its range, its value
def parse_date(s: str | None, serial: bool = False) -> dt.date | None:
    """Any municipal date form → date: ``R7.4.1``, ``R07.04.01``, ``令和7年4月1日``, ``H30.12.5``, ``令和元年5月1日``,
    ``2025/04/01``, ``2025-04-01``, ``2025.4.1``, ``20250401``, ``2025年4月1日``; with ``serial``, an Excel serial
    number too (``45748`` → 2025-04-01). ``None`` if it is not a real date."""
    t = nfkc(s).replace(" ", "")
    if not t:
        return None
    if serial and re.fullmatch(r"\d{1,5}(\.0+)?", t) and 61 <= float(t) < 2958466:
        return EXCEL_EPOCH + dt.timedelta(days=int(float(t)))
    m = _RE_ERA_LETTER.match(t) or _RE_ERA_KANJI.match(t)
    if m:
        era, y, mo, d = m.groups()
        start = _ERA_BY_LETTER.get(era.upper()) or _ERA_BY_KANJI.get(era)
        year = start.year + (1 if y == "元" else int(y)) - 1
        return _make_date(year, int(mo), int(d))
    m = _RE_WEST.match(t) or _RE_WEST8.match(t)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        return _make_date(y, mo, d) if 1868 <= y <= 2100 else None
    return None


def normalize_atena(s: str | None) -> str | None:
    """宛名番号 → its 10-digit form (``1234567`` → ``0001234567``); ``None`` if blank or not a number."""
    t = nfkc(s)
    if not t or not t.isdigit() or len(t) > 10 or not t.isascii():
        return None
    return t.zfill(10)


def normalize_atena_column(values: pd.Series, keep_invalid: bool = False) -> pd.Series:
    """:func:`normalize_atena` of a whole column, in Arrow; a value that is not a number becomes missing (or stays as
    it was with ``keep_invalid``, for validation to report)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow_text(nfkc_column(values))
    ok = pc.match_substring_regex(arr, r"^[0-9]{1,10}$")
    out = pc.if_else(ok, pc.utf8_lpad(arr, 10, "0"), arr if keep_invalid else pa.nulls(len(arr), arr.type))
    if not keep_invalid:
        out = pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.nulls(len(arr), arr.type), out)
    return text_series(out, values.index)


@functools.lru_cache(maxsize=1 << 16)
def parse_int(s: str | None) -> int | None:
    """An integer cell (full-width digits allowed, thousands separators dropped); ``None`` if not one."""
    t = nfkc(s).replace(",", "")
    return int(t) if t.isascii() and t.lstrip("-").isdigit() else None


_KANJI_NUM = "〇一二三四五六七八九十百千"
_UNITS = "丁目|番地の|番地|番|号|の|ノ"
_RE_KANJI_NUM_UNIT = re.compile(rf"([{_KANJI_NUM}]+)(?=丁目|番地|番|号|の|ノ|-)")
_RE_KANJI_NUM_AFTER = re.compile(rf"(?<=[0-9\-番地号のノ目])([{_KANJI_NUM}]+)(?![\u4e00-\u9fff])")
_RE_GA = re.compile(r"(?<=[\u4e00-\u9fff])[ヶケヵがガ](?=[\u4e00-\u9fff])")
_RE_BLOCK = re.compile(rf"^(?P<town>\D*?)(?P<block>\d+(?:(?:{_UNITS}|-)\d+)*)(?P<tail>丁目|番地|番|号)?(?P<rest>.*)$")


def _kanji_to_int(s: str) -> int:
    """A kanji numeral (三, 十二, 二十三, 千二百三十四, 一二三) → its value."""
    if s.isdigit():
        return int(s)
    if not any(u in s for u in "十百千"):
        return int("".join(str(KANJI_DIGITS[c]) for c in s))
    total, num = 0, 0
    for c in s:
        if c in KANJI_DIGITS:
            num = KANJI_DIGITS[c]
        else:
            total += (num or 1) * {"十": 10, "百": 100, "千": 1000}[c]
            num = 0
    return total + num


def normalize_address(s: str | None, city: str = "別府市", prefecture: str = "大分県") -> str:
    """An address → one comparable form for every common rendering: prefecture and city dropped; 大字/字 prefixes
    dropped; ヶ/ケ/が between kanji as ケ; kanji numerals in 丁目・番地・号 as digits; 丁目・番地・番・号 and the
    separators の, ノ and dashes as ``-``; a building or room after the block kept after one space.
    ``別府市野口原3丁目4番5号`` / ``別府市野口原３－４－５`` / ``野口原三丁目四番五号`` / ``野口原3丁目4番地の5`` →
    ``野口原3-4-5``."""
    t = nfkc(s)
    if not t:
        return ""
    t = t.removeprefix(prefecture).removeprefix(city)
    t = _SPACES.sub(" ", t).strip()
    t = t.replace("大字", "").removeprefix("字")
    t = _RE_GA.sub("ケ", t)
    t = _RE_KANJI_NUM_UNIT.sub(lambda m: str(_kanji_to_int(m.group(1))), t)
    t = _RE_KANJI_NUM_AFTER.sub(lambda m: str(_kanji_to_int(m.group(1))), t)
    t = re.sub(rf"(?<=\d)\s*[{_DASHES}]\s*(?=\d)", "-", t)
    m = _RE_BLOCK.match(t)
    if not m:
        return fold_variants(t)
    nums = "-".join(re.findall(r"\d+", m.group("block")))
    rest = m.group("rest").strip()
    rest = re.sub(rf"^[{_DASHES}\s]+", "", rest)
    return f"{m.group('town').strip()}{nums} {fold_variants(rest)}".strip()


def map_unique(values: pd.Series, fn: Callable[[str | None], object]) -> pd.Series:
    """Apply ``fn`` once per distinct value (exports repeat values a lot) and map back; missing → ``fn(None)``.
    The distinct values come from ``pd.factorize`` and the mapping back is one ``take`` (no Python loop per row)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    out = np.empty(len(uniques) + 1, dtype=object)
    for i, v in enumerate(uniques.tolist()):  # a list: iterating an Arrow-backed Index is ten times slower
        out[i] = fn(v)
    out[-1] = fn(None)                                   # code -1: a missing value
    return pd.Series(out[codes], index=values.index, dtype=object)


def nfkc_column(values: pd.Series) -> pd.Series:
    """:func:`nfkc` of a whole text column, in Arrow (vectorised): NFKC, surrounding whitespace removed, missing
    kept missing."""
    import pyarrow.compute as pc

    return text_series(pc.utf8_trim_whitespace(pc.utf8_normalize(arrow_text(values), "NFKC")), values.index)


def arrow_text(values: pd.Series):
    """A text column as an Arrow array (without a round trip through Python objects when it is Arrow already)."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return pa.array(values.array)
    return pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.large_string())


def text_series(arr, index: pd.Index | None = None) -> pd.Series:
    """An Arrow text array as an Arrow-backed ``string[pyarrow]`` Series."""
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, dtype="string[pyarrow]")


def map_unique_text(values: pd.Series, fn: Callable[[str | None], str | None]) -> pd.Series:
    """:func:`map_unique` for a function that returns text, as ``string[pyarrow]`` (the mapping back is an Arrow
    ``take``, no Python object per row)."""
    import pyarrow as pa

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = pa.array([fn(v) for v in uniques.tolist()] + [fn(None)], type=pa.large_string())
    codes = np.where(codes < 0, len(uniques), codes)
    return text_series(mapped.take(pa.array(codes)), values.index)


def address_base(s: str) -> str:
    """The street part of a normalised address (without building)."""
    return s.split(" ", 1)[0]
