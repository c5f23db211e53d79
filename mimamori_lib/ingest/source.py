"""One export: read, check the header, validate, convert, pseudonymise (identities to the restricted table)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..params import City
from ..privacy.pseudonym import pseudonym_series
from ..rights.apply import YearRights
from ..text.cells import CellTable, cell_table
from ..text.gaiji import apply as apply_gaiji
from ..text.gaiji import fold_selectors
from ..text.normalize import (
    arrow_text,
    map_unique,
    map_unique_text,
    nfkc_column,
    normalize_address,
    normalize_atena_column,
    normalize_name,
    parse_date,
    parse_int,
    split_name,
    text_series,
    to_katakana,
)
from ..text.reading import SourceError, decode, delimiter
from .validation import WHOLE_ROW, code_map, validate

log = logging.getLogger(__name__)
# canonical fields that the linkage needs, copied to the identity table even when not identifying
LINK_FIELDS = ("birth_date", "sex", "school", "grade", "resident_since")


@dataclass
class SourceResult:
    source: str
    path: str
    department: str
    title: str
    status: str = "loaded"            # loaded | missing | absent (optional) | error
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    columns_refused: list[str] = field(default_factory=list)
    message: str = ""
    encoding: str = ""
    table: pd.DataFrame | None = None
    identity: pd.DataFrame | None = None
    quarantine: pd.DataFrame | None = None
    missing: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    warning: str = ""                 # a completeness warning (fewer rows than last year or than it should cover)
    gaiji_unmapped: int = 0           # private-use characters (外字) left in names and addresses: no entry in the table

    def summary_row(self) -> dict:
        return {"source": self.path, "status": self.status, "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "rows_quarantined": self.rows_quarantined, "columns_refused": ";".join(self.columns_refused),
                "message": self.message, "warning": self.warning, "gaiji_unmapped": self.gaiji_unmapped}


def convert(kind: str, s: pd.Series, col: dict, city: City | None = None) -> pd.Series:
    """Validated text cells → typed values (invalid survey answers → missing)."""
    if kind == "key":
        return normalize_atena_column(s)
    if kind in ("date", "wareki"):
        serial = bool(col.get("serial"))
        return pd.to_datetime(map_unique(s, lambda v: parse_date(v, serial) if isinstance(v, str) else None))
    if kind == "int":
        return map_unique(s, lambda v: parse_int(v) if isinstance(v, str) else None).astype("Int64")
    if kind == "code":  # the export's own values mapped to the canonical codes
        canonical = code_map(col)
        return map_unique_text(s, lambda v: canonical.get(v) if isinstance(v, str) else None)
    if kind == "name":
        return map_unique_text(s, lambda v: normalize_name(v) if isinstance(v, str) else None)
    if kind == "kana":
        return map_unique_text(s, lambda v: to_katakana(v) if isinstance(v, str) else None)
    if kind == "address":
        city = city or City()
        return map_unique_text(s, lambda v: normalize_address(v, city.name, city.prefecture) if isinstance(v, str) else None)
    return s.astype("string")



def ingest_source(spec: dict, raw_dir: Path, key: bytes, known: dict[str, set], city: City | None = None,
                  reference: dt.date | None = None, gaiji: dict[str, str] | None = None,
                  rights: YearRights | None = None) -> SourceResult:
    """Read, validate and convert one export. Never raises for data problems: they become the result. ``reference``:
    the year's reference date, which the date ranges of the registry are relative to; ``rights``: the year's
    corrections and stops, applied to the rows as received (:mod:`mimamori_lib.rights.apply`)."""
    t0 = time.perf_counter()
    res = SourceResult(spec["id"], spec["path"], spec.get("department", ""), spec.get("title", ""))
    try:
        _ingest(spec, raw_dir, key, known, res, city, reference, gaiji or {}, rights)
    except SourceError as e:
        res.status, res.message = e.status, str(e)
        res.table = res.identity = None
        res.rows_loaded = res.rows_quarantined = 0
        res.quarantine = None
    res.seconds = round(time.perf_counter() - t0, 3)
    if res.rows_read != res.rows_loaded + res.rows_quarantined and res.status == "loaded":
        raise AssertionError(f"{res.path}: 行数が合いません ({res.rows_read} ≠ {res.rows_loaded} + {res.rows_quarantined})")
    return res


def _ingest(spec: dict, raw_dir: Path, key: bytes, known: dict[str, set], res: SourceResult, city: City | None,
            reference: dt.date | None, gaiji: dict[str, str], rights: YearRights | None = None) -> None:
    table, res.encoding, note = read_cells(spec, raw_dir)
    header = table.header
    cols = spec["columns"]
    unknown = [h for h in header if h not in cols]
    disallowed = [h for h in header if h in cols and cols[h].get("allowed", True) is False]
    res.columns_refused = [f"{h}(登録簿にない列)" for h in unknown] + [f"{h}(利用目的外)" for h in disallowed]
    keep = [i for i, h in enumerate(header) if h in cols and h not in disallowed]
    keep_headers = [header[i] for i in keep]
    line_of = table.lines
    stopped: set[int] = set()
    if rights is not None:  # 利用停止 first (a stopped child's row is not corrected either), then 訂正
        if spec.get("role") == "registry":
            rights.learn_registry(spec, table)
        stopped = rights.drop(spec, table)
        rights.correct(spec, table, skip=stopped)
    res.rows_read = len(table) - len(stopped)
    width = len(header)
    q_lines = sorted([(i + 1, WHOLE_ROW, "", why) for i, why in table.broken.items() if i not in stopped]
                     + [(i + 1, WHOLE_ROW, f"{len(r)} 列", f"列数がヘッダー ({width} 列) と一致しません")
                        for i, r in table.odd.items() if i not in stopped])
    irregular = np.zeros(len(table), dtype=bool)
    irregular[[*table.broken, *table.odd, *stopped]] = True
    good = np.flatnonzero(~irregular)
    first_of = {} if spec.get("duplicates_allowed") else repeated_rows(table, good)
    df = pd.DataFrame({h: pd.arrays.ArrowStringArray(table.columns[j].take(good))
                       for h, j in zip(keep_headers, keep, strict=True)}, index=good)
    del table
    limited = [h for h in keep_headers if cols[h].get("max_length") is not None]
    lengths = df[limited].apply(lambda c: c.str.len()) if len(df) else df[limited]  # as exported
    if len(df):
        df = df.apply(nfkc_column)
        df = df.mask(df == "")
        for h in keep_headers:
            if cols[h]["type"] == "key":  # 10-digit form, so 1234567 and 0001234567 are one key
                df[h] = normalize_atena_column(df[h], keep_invalid=True)
    ok, q = validate(spec, df, first_of, lengths, reference, line_of) if len(df) else (pd.Series(dtype=bool), pd.DataFrame())
    quarantine = pd.concat([pd.DataFrame(q_lines, columns=["row", "column", "value", "reason"]), q], ignore_index=True)
    quarantine.insert(0, "source", spec["path"])
    quarantine.insert(2, "line", line_of[quarantine["row"].to_numpy(dtype=np.int64) - 1] if len(quarantine) else [])
    res.quarantine = quarantine.sort_values("row", kind="stable").reset_index(drop=True)
    res.rows_quarantined = int(res.quarantine["row"].nunique()) if len(res.quarantine) else 0
    valid = df[ok.to_numpy()].copy() if len(df) else df
    res.rows_loaded = len(valid)
    for h in keep_headers:  # 外字: the city's table, before names and addresses are normalised
        if cols[h]["type"] in ("name", "kana", "address") and len(valid):
            valid[h], left = apply_gaiji(valid[h], gaiji)
            res.gaiji_unmapped += left
    res.table, res.identity, res.missing = _tables(spec, valid, key, known, city)
    res.message = "; ".join(x for x in [note, "データ行がありません (ヘッダーのみ)" if not len(line_of) else ""] if x)


def read_cells(spec: dict, raw_dir: Path) -> tuple[CellTable, str, str]:
    """An export's cells, its encoding and a note on how it was read; raises :class:`SourceError` for a file that is
    absent, empty, or whose header lacks a required column or repeats one."""
    f = raw_dir / spec["path"]
    if not f.exists():
        if spec.get("optional"):
            raise SourceError("absent", "ファイルがありません (任意のファイルのため問題ありません)")
        raise SourceError("missing", f"ファイルがありません: {spec['path']}")
    data = f.read_bytes()
    if not data.strip(b"\xef\xbb\xbf \r\n\t"):
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)")
    text, encoding, note = decode(data, spec["encoding"])
    del data
    if delimiter(text) == "\t":
        note = "; ".join(x for x in (note, "タブ区切りとして読みました") if x)
    table = cell_table(text, int(spec.get("row_lines", 1)))
    del text
    header = table.header
    missing_required = [h for h, c in spec["columns"].items() if c.get("required") and h not in header]
    if missing_required:
        raise SourceError("error", f"必須列がありません: {'・'.join(missing_required)} (見つかった列: {'・'.join(header)})")
    dup_headers = sorted({h for h in header if header.count(h) > 1})
    if dup_headers:
        raise SourceError("error", f"同じ名前の列が複数あります: {'・'.join(dup_headers)}")
    return table, encoding, note


def repeated_rows(table: CellTable, rows: np.ndarray) -> dict[int, int]:
    """Among ``rows`` (indexes in file order), each row that repeats an earlier one cell for cell as exported (every
    column, read or not) → the first of them."""
    if len(rows) < 2:
        return {}
    cells = pd.DataFrame({j: pd.arrays.ArrowStringArray(c.take(rows)) for j, c in enumerate(table.columns)})
    involved = cells.duplicated(keep=False).to_numpy()
    if not involved.any():
        return {}
    cells, rows = cells[involved], rows[involved]
    repeats = cells.duplicated(keep="first").to_numpy()
    group = cells.groupby(list(cells.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(rows).groupby(group).transform("first").to_numpy()
    return {int(i): int(f) for i, f in zip(rows[repeats], first[repeats], strict=True)}


def _tables(spec: dict, df: pd.DataFrame, key: bytes, known: dict[str, set],
            city: City | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """Typed analysis table (no identifying values) and identity rows for one source."""
    cols = spec["columns"]
    table = pd.DataFrame({"row": (df.index.to_numpy() + 1).astype(np.int64)})
    ident = pd.DataFrame({"source": spec["path"], "row": table["row"].to_numpy()})
    missing = {}
    has_identity = False
    for h in df.columns:
        c = cols[h]
        name, kind = c["name"], c["type"]
        values = convert(kind, df[h], c, city).reset_index(drop=True)
        missing[h] = int(values.isna().sum())
        if kind == "key" and c.get("pseudonym"):
            domain = "household" if c["pseudonym"] == "household_id" else "person"
            table[c["pseudonym"]] = ident[c["pseudonym"]] = pseudonym_series(key, values, domain).array
        if c.get("identity"):
            ident[name] = _held(values)
            if kind not in ("key",):
                has_identity = True
        else:
            table[name] = _held(values)
            if name in LINK_FIELDS:
                ident[name] = _held(values)
        if kind in NAME_PARTS:  # the parts compared in 名寄せ: variation selectors folded (the name keeps them)
            _name_parts(ident, kind, name, known)
        if kind == "name":
            ident["name_raw"] = df[h].array
    return table, (ident if has_identity else None), missing


# a name column's parts in the identity table, and the registry's family names (:func:`known_surnames`) they use
NAME_PARTS = {"name": ("family_name", "given_name", "family"), "kana": ("family_kana", "given_kana", "family_kana")}


def _name_parts(ident: pd.DataFrame, kind: str, column: str, known: dict[str, set]) -> None:
    """The family and given parts of a name or reading column, in place."""
    family, given, surnames = NAME_PARTS[kind]
    ident[family], ident[given] = _split(map_unique_text(ident[column], fold_selectors), known.get(surnames, set()))


def split_again(spec: dict, res: SourceResult, known: dict[str, set]) -> None:
    """A result's name parts made again with the registry's family names (a source ingested beside the registry,
    before they were known): the same parts as ingesting it after the registry."""
    if res.identity is None:
        return
    kinds = {c["name"]: c["type"] for c in spec["columns"].values() if c["type"] in NAME_PARTS and c.get("identity")}
    for column in [c for c in res.identity.columns if c in kinds]:  # in the order ingestion made them
        _name_parts(res.identity, kinds[column], column, known)


def _held(values: pd.Series):
    """A converted column as the tables hold it: text stays Arrow-backed (a million names as Python strings would
    take a gigabyte); other types as NumPy values."""
    return values.array if values.dtype == "string[pyarrow]" else values.to_numpy()


def _split(names: pd.Series, known: set[str]) -> tuple[pd.Series, pd.Series]:
    """Family and given parts of normalised names (``split_name``): spaced names split in Arrow at the first space;
    the few unspaced ones use known family names."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arrow_text(names)
    parts = pc.extract_regex(arr, r"^(?P<f>[^ ]*) (?P<g>.*)$")
    fam = text_series(pc.struct_field(parts, "f"))
    given = text_series(pc.replace_substring(pc.struct_field(parts, "g"), " ", ""))
    rest = fam.isna().to_numpy() & ~names.isna().to_numpy()
    if rest.any():
        fams = known | _spaced(names)
        sub = map_unique(pd.Series(arr.filter(pa.array(rest)).to_pylist(), dtype="string"),
                         lambda v: split_name(v, fams) if isinstance(v, str) else (None, None))
        fam[rest] = [x[0] for x in sub]
        given[rest] = [x[1] for x in sub]
    return fam.array, given.array


def _spaced(names: pd.Series) -> set[str]:
    """Family names a column itself shows with a space."""
    import pyarrow.compute as pc

    fam = pc.struct_field(pc.extract_regex(arrow_text(names), r"^(?P<f>[^ ]*) "), "f")
    return set(pc.unique(fam.drop_null()).to_pylist())


def known_surnames(identity: pd.DataFrame | None) -> dict[str, set]:
    """Family names (kanji and kana) seen with a space in the registry: the fallback for unspaced names."""
    if identity is None or identity.empty:
        return {"family": set(), "family_kana": set()}
    return {"family": _spaced(identity["name"]), "family_kana": _spaced(identity["name_kana"])}


