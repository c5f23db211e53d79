"""Ingestion: read every department export as received, normalise, validate, quarantine, pseudonymise.

Driven by the source registry (``params/sources.yaml``): nothing here knows a particular file. Per source:
decode (declared encoding, BOM, or the other Japanese encoding with a note), check the header (unknown or
purpose-disallowed columns are refused and reported; a missing required column stops that source), validate
each row with a pandera schema built from the registry, set failing rows aside in the quarantine with their
1-based row number and a Japanese reason, and write the typed, pseudonymised table. Identifying columns go
only to the restricted identity table. ``rows_read = rows_loaded + rows_quarantined`` is checked per source.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .normalize import (
    map_unique,
    nfkc,
    normalize_address,
    normalize_atena,
    normalize_name,
    parse_date,
    parse_int,
    split_name,
    to_katakana,
)
from .params import City, Params, read_data_file
from .pseudonym import key_path, load_key, pseudonym_series
from .restricted import private_dir, private_file

log = logging.getLogger(__name__)
WHOLE_ROW = "(行全体)"
ENCODINGS = {"cp932": "cp932", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8-sig", "shift_jis": "cp932"}
ENCODING_LABEL = {"cp932": "CP932 (Shift_JIS)", "utf-8-sig": "UTF-8"}
# canonical fields that the linkage needs, copied to the identity table even when not identifying
LINK_FIELDS = ("birth_date", "sex", "school", "grade")


class SourceError(Exception):
    """A source that cannot be loaded at all (file missing, empty, undecodable, required column missing)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


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

    def summary_row(self) -> dict:
        return {"source": self.path, "status": self.status, "rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "rows_quarantined": self.rows_quarantined, "columns_refused": ";".join(self.columns_refused),
                "message": self.message}


# --- registry ----------------------------------------------------------------------------------------

def load_registry(p: Params) -> dict[str, dict]:
    """The source registry named in params (``ingest.registry``), with each source's columns flattened and
    the run's refusals (``ingest.refuse: {source: [header, ...]}``) applied."""
    reg = read_data_file(p.ingest.registry)
    defaults = reg.get("defaults", {})
    out = {}
    for sid, spec in reg["sources"].items():
        cols = {**spec.get("columns", {}), **spec.get("extra_columns", {})}
        cols = {h: {**defaults, **c} for h, c in cols.items()}
        for h in p.ingest.refuse.get(sid, []):
            if h in cols:
                cols[h]["allowed"] = False
        out[sid] = {**spec, "id": sid, "columns": cols}
    return out


# --- reading -----------------------------------------------------------------------------------------

def decode(data: bytes, declared: str) -> tuple[str, str, str]:
    """Bytes → text. BOM means UTF-8; otherwise the declared encoding, else the other Japanese one.
    Returns (text, encoding used, note)."""
    declared = ENCODINGS.get(declared.lower(), declared)
    if data.startswith(b"\xef\xbb\xbf"):
        used = "utf-8-sig"
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
    except UnicodeDecodeError as e:  # BOM present but not UTF-8 after it
        line = data[: e.start].count(b"\n") + 1
        raise SourceError("error", f"UTF-8 の BOM がありますが UTF-8 として読めません: {line} 行目付近") from e
    note = "" if used == declared else f"登録簿では {ENCODING_LABEL.get(declared, declared)} ですが {ENCODING_LABEL[used]} で読みました"
    return text, used, note


def read_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """CSV text → (header, data rows). Handles CRLF/LF and quoted fields."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)") from None
    if not any(h.strip() for h in header):
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)")
    return [nfkc(h) for h in header], list(reader)


# --- validation --------------------------------------------------------------------------------------

def _valid(kind: str, col: dict) -> callable:
    """Element validity for a column type (values already NFKC'd; blanks handled by nullability)."""
    if kind == "key":
        return lambda v: normalize_atena(v) is not None
    if kind in ("date", "wareki"):
        return lambda v: parse_date(v) is not None
    if kind == "int":
        return lambda v: parse_int(v) is not None
    if kind == "code":
        codes = {nfkc(str(c)) for c in col.get("codes", [])}
        return lambda v: v in codes
    return lambda v: True


REASONS = {
    "key": "宛名番号として読めません (数字 10 桁以内ではありません)",
    "date": "日付として読めません", "wareki": "日付として読めません",
    "int": "整数として読めません",
    "code": "不明なコードです",
}


def build_schema(spec: dict, headers: list[str], exact_dup: pd.Series) -> pa.DataFrameSchema:
    """A pandera schema for the loaded columns of one source, from the registry."""
    cols = {}
    for h in headers:
        c = spec["columns"][h]
        if c.get("invalid") == "missing":
            cols[h] = pa.Column(nullable=True)
            continue
        fn = _valid(c["type"], c)
        checks = []
        if c["type"] in REASONS:
            reason = REASONS[c["type"]]
            if c["type"] == "code":
                reason = f"不明なコードです (有効: {'・'.join(map(str, c.get('codes', [])))})"
            checks.append(pa.Check(lambda s, fn=fn: map_unique(s, fn).astype(bool), error=reason, ignore_na=True))
        cols[h] = pa.Column(nullable=not c.get("required", False), checks=checks)
    unique = [h for h in spec.get("unique", []) if h in headers]
    return pa.DataFrameSchema(
        cols, unique=unique or None, report_duplicates="exclude_first",
        checks=[pa.Check(lambda d: ~exact_dup.reindex(d.index, fill_value=False), error="EXACT_DUP")],
    )


def _mask(value, kind: str, identity: bool) -> str:
    """Quarantine shows what is wrong without exposing a person: identifying values are masked."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    s = str(value)
    if not identity or kind in ("date", "wareki", "code"):
        return s
    if kind == "key":
        return "".join("*" if ch.isdigit() else ch for ch in s)
    return s[:1] + "＊" * max(len(s) - 1, 0)


def validate(spec: dict, df: pd.DataFrame, raw_rows: list[tuple]) -> tuple[pd.Series, pd.DataFrame]:
    """Validate one source's cells. Returns (ok mask, quarantine lines)."""
    seen: dict[tuple, int] = {}
    exact = np.zeros(len(df), dtype=bool)
    first_of = {}
    for i, r in enumerate(raw_rows):
        if spec.get("duplicates_allowed"):
            break
        if r in seen:
            exact[i] = True
            first_of[i] = seen[r]
        else:
            seen[r] = i
    exact_dup = pd.Series(exact, index=df.index)
    schema = build_schema(spec, list(df.columns), exact_dup)
    try:
        schema.validate(df, lazy=True)
        return pd.Series(True, index=df.index), pd.DataFrame(columns=["row", "column", "value", "reason"])
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    fc = fc[fc["index"].notna()].copy()
    fc["index"] = fc["index"].astype(int)
    lines = []
    for (idx, check), grp in fc.groupby(["index", "check"], sort=True):
        if check == "EXACT_DUP":
            lines.append((idx, WHOLE_ROW, f"{first_of[idx] + 1} 行目と同一", "前の行と完全に重複しています"))
        elif check in ("multiple_fields_uniqueness", "field_uniqueness"):
            if exact[idx]:
                continue
            cols = "・".join(spec.get("unique", []))
            lines.append((idx, cols, _mask(grp["failure_case"].iloc[0], "key", True), f"{cols} が前の行と重複しています"))
        else:
            for col in grp["column"]:
                c = spec["columns"].get(col, {})
                reason = "必須項目が空です" if check == "not_nullable" else str(check)
                lines.append((idx, col, _mask(df.at[idx, col], c.get("type", "text"), c.get("identity", False))
                              if check != "not_nullable" else "", reason))
    q = pd.DataFrame(lines, columns=["index", "column", "value", "reason"])
    # a key that repeats because it is unreadable is reported as unreadable only
    uniq = q["reason"].str.endswith("が前の行と重複しています")
    q = q[~uniq | ~q["index"].isin(q.loc[~uniq, "index"])]
    q["row"] = q["index"] + 1
    ok = ~df.index.isin(q["index"].unique())
    return pd.Series(ok, index=df.index), q[["row", "column", "value", "reason"]]


# --- conversion --------------------------------------------------------------------------------------

def convert(kind: str, s: pd.Series, col: dict, city: City | None = None) -> pd.Series:
    """Validated text cells → typed values (invalid survey answers → missing)."""
    if kind == "key":
        return map_unique(s, lambda v: normalize_atena(v) if isinstance(v, str) else None).astype("string")
    if kind in ("date", "wareki"):
        return pd.to_datetime(map_unique(s, lambda v: parse_date(v) if isinstance(v, str) else None))
    if kind == "int":
        return map_unique(s, lambda v: parse_int(v) if isinstance(v, str) else None).astype("Int64")
    if kind == "code":
        codes = {nfkc(str(c)) for c in col.get("codes", [])}
        recode = {nfkc(str(k)): str(v) for k, v in col.get("recode", {}).items()}
        out = s.where(s.isin(codes))
        return out.map(lambda v: recode.get(v, v) if isinstance(v, str) else v).astype("string")
    if kind == "name":
        return map_unique(s, lambda v: normalize_name(v) if isinstance(v, str) else None).astype("string")
    if kind == "kana":
        return map_unique(s, lambda v: to_katakana(v) if isinstance(v, str) else None).astype("string")
    if kind == "address":
        city = city or City()
        return map_unique(s, lambda v: normalize_address(v, city.name, city.prefecture)
                          if isinstance(v, str) else None).astype("string")
    return s.astype("string")


# --- one source --------------------------------------------------------------------------------------

def ingest_source(spec: dict, raw_dir: Path, key: bytes, known: dict[str, set], city: City | None = None) -> SourceResult:
    """Read, validate and convert one export. Never raises for data problems: they become the result."""
    t0 = time.perf_counter()
    res = SourceResult(spec["id"], spec["path"], spec.get("department", ""), spec.get("title", ""))
    try:
        _ingest(spec, raw_dir, key, known, res, city)
    except SourceError as e:
        res.status, res.message = e.status, str(e)
        res.table = res.identity = None
        res.rows_loaded = res.rows_quarantined = 0
        res.quarantine = None
    res.seconds = round(time.perf_counter() - t0, 3)
    if res.rows_read != res.rows_loaded + res.rows_quarantined and res.status == "loaded":
        raise AssertionError(f"{res.path}: 行数が合いません ({res.rows_read} ≠ {res.rows_loaded} + {res.rows_quarantined})")
    return res


def _ingest(spec: dict, raw_dir: Path, key: bytes, known: dict[str, set], res: SourceResult, city: City | None) -> None:
    f = raw_dir / spec["path"]
    if not f.exists():
        if spec.get("optional"):
            raise SourceError("absent", "ファイルがありません (任意のファイルのため問題ありません)")
        raise SourceError("missing", f"ファイルがありません: {spec['path']}")
    data = f.read_bytes()
    if not data.strip(b"\xef\xbb\xbf \r\n\t"):
        raise SourceError("error", "空のファイルです (ヘッダー行がありません)")
    text, res.encoding, note = decode(data, spec.get("encoding", "cp932"))
    header, rows = read_rows(text)
    cols = spec["columns"]
    unknown = [h for h in header if h not in cols]
    disallowed = [h for h in header if h in cols and cols[h].get("allowed", True) is False]
    missing_required = [h for h, c in cols.items() if c.get("required") and h not in header]
    if missing_required:
        raise SourceError("error", f"必須列がありません: {'・'.join(missing_required)} (見つかった列: {'・'.join(header)})")
    dup_headers = sorted({h for h in header if header.count(h) > 1})
    if dup_headers:
        raise SourceError("error", f"同じ名前の列が複数あります: {'・'.join(dup_headers)}")
    res.columns_refused = [f"{h}(登録簿にない列)" for h in unknown] + [f"{h}(利用目的外)" for h in disallowed]
    if res.columns_refused:
        log.info("  %s: 読み込まない列 %s", spec["path"], "・".join(res.columns_refused))
    keep = [i for i, h in enumerate(header) if h in cols and h not in disallowed]
    keep_headers = [header[i] for i in keep]
    res.rows_read = len(rows)
    width = len(header)
    bad_width = [i for i, r in enumerate(rows) if len(r) != width]
    q_lines = [(i + 1, WHOLE_ROW, f"{len(rows[i])} 列", f"列数がヘッダー ({width} 列) と一致しません") for i in bad_width]
    good = [i for i in range(len(rows)) if len(rows[i]) == width]
    raw_tuples = [tuple(rows[i]) for i in good]
    df = pd.DataFrame([[rows[i][j] for j in keep] for i in good], columns=keep_headers, index=good, dtype="string")
    if len(df):
        df = df.apply(lambda s: map_unique(s, nfkc)).astype("string")
        df = df.mask(df == "")
        for h in keep_headers:
            if cols[h]["type"] == "key":  # 10-digit form, so 1234567 and 0001234567 are one key
                df[h] = map_unique(df[h], lambda v: (normalize_atena(v) or v) if isinstance(v, str) else v).astype("string")
    ok, q = validate(spec, df, raw_tuples) if len(df) else (pd.Series(dtype=bool), pd.DataFrame())
    quarantine = pd.concat([pd.DataFrame(q_lines, columns=["row", "column", "value", "reason"]), q], ignore_index=True)
    quarantine.insert(0, "source", spec["path"])
    res.quarantine = quarantine.sort_values("row", kind="stable").reset_index(drop=True)
    res.rows_quarantined = int(res.quarantine["row"].nunique()) if len(res.quarantine) else 0
    valid = df[ok.to_numpy()] if len(df) else df
    res.rows_loaded = len(valid)
    res.table, res.identity, res.missing = _tables(spec, valid, key, known, city)
    res.message = "; ".join(x for x in [note, "データ行がありません (ヘッダーのみ)" if not rows else ""] if x)


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
            table[c["pseudonym"]] = pseudonym_series(key, values, domain).to_numpy()
            ident[c["pseudonym"]] = table[c["pseudonym"]].to_numpy()
        if c.get("identity"):
            ident[name] = values.to_numpy()
            if kind not in ("key",):
                has_identity = True
        else:
            table[name] = values.to_numpy()
            if name in LINK_FIELDS:
                ident[name] = values.to_numpy()
        if kind == "name":
            ident["family_name"], ident["given_name"] = _split(ident[name], known.get("family", set()))
            ident["name_raw"] = df[h].to_numpy()
        if kind == "kana":
            ident["family_kana"], ident["given_kana"] = _split(ident[name], known.get("family_kana", set()))
    return table, (ident if has_identity else None), missing


def _split(names: pd.Series, known: set[str]) -> tuple[pd.Series, pd.Series]:
    """Family and given parts of normalised names; unspaced names use known family names."""
    fams = known | _spaced(names)
    parts = map_unique(pd.Series(names), lambda v: split_name(v, fams) if isinstance(v, str) else (None, None))
    return parts.str[0].astype("string").to_numpy(), parts.str[1].astype("string").to_numpy()


def _spaced(names: pd.Series) -> set[str]:
    """Family names a column itself shows with a space."""
    s = pd.Series(names).dropna().astype(str)
    return set(s[s.str.contains(" ", regex=False)].str.split(" ").str[0])


def known_surnames(identity: pd.DataFrame | None) -> dict[str, set]:
    """Family names (kanji and kana) seen with a space in the registry: the fallback for unspaced names."""
    if identity is None or identity.empty:
        return {"family": set(), "family_kana": set()}
    return {"family": _spaced(identity["name"]), "family_kana": _spaced(identity["name_kana"])}


# --- one year ----------------------------------------------------------------------------------------

@dataclass
class IngestResult:
    fiscal_year: int
    sources: dict[str, SourceResult]
    seconds: float

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([r.summary_row() for r in self.sources.values()])

    def quarantine(self) -> pd.DataFrame:
        qs = [r.quarantine for r in self.sources.values() if r.quarantine is not None and len(r.quarantine)]
        cols = ["source", "row", "column", "value", "reason"]
        return pd.concat(qs, ignore_index=True)[cols] if qs else pd.DataFrame(columns=cols)


def ingest_year(p: Params, write: bool = True) -> IngestResult:
    """Ingest every source of the params' fiscal year; write outputs under ``<out>/processed/<fy>/``."""
    t0 = time.perf_counter()
    registry = load_registry(p)
    raw_dir = p.raw_year
    key = load_key(key_path(p))
    if not raw_dir.exists():
        log.error("入力フォルダがありません: %s", raw_dir)
    results: dict[str, SourceResult] = {}
    known: dict[str, set] = {"family": set(), "family_kana": set()}
    order = sorted(registry, key=lambda s: 0 if registry[s].get("role") == "registry" else 1)
    for i, sid in enumerate(order, 1):
        r = ingest_source(registry[sid], raw_dir, key, known, p.city)
        if sid == order[0]:
            known = known_surnames(r.identity)
        results[sid] = r
        log.info("[取込 %2d/%d] %-28s %-7s 読込 %6d 行, 取込 %6d, 隔離 %4d (%.2f 秒)%s", i, len(order), r.path, r.status,
                 r.rows_read, r.rows_loaded, r.rows_quarantined, r.seconds, f"  {r.message}" if r.message else "")
    res = IngestResult(p.fiscal_year, results, round(time.perf_counter() - t0, 2))
    if write:
        write_outputs(p, res)
    not_loaded = [r.path for r in results.values() if r.status in ("missing", "error")]
    if not_loaded:
        log.warning("読み込めなかったファイル: %s", "・".join(not_loaded))
    return res


def write_outputs(p: Params, res: IngestResult) -> Path:
    """Parquet per source, the restricted identity table, quarantine.csv and ingest_summary.csv."""
    out = p.processed
    out.mkdir(parents=True, exist_ok=True)
    restricted = private_dir(out / "restricted")
    idents = []
    for sid, r in res.sources.items():
        target = out / f"{sid}.parquet"
        if r.table is not None:
            r.table.to_parquet(target, index=False)
        elif target.exists():
            target.unlink()
        if r.identity is not None:
            idents.append(r.identity)
    if idents:
        ident = pd.concat(idents, ignore_index=True)
        for c in ident.columns:
            if ident[c].dtype == object:
                ident[c] = ident[c].astype("string")
        with private_file(restricted / "identity.parquet") as f:
            ident.to_parquet(f, index=False)
    res.quarantine().to_csv(out / "quarantine.csv", index=False, encoding="utf-8-sig")
    res.summary().to_csv(out / "ingest_summary.csv", index=False, encoding="utf-8-sig")
    log.info("取込結果を書き出しました: %s", out)
    return out


def role_source(p: Params, role: str) -> str:
    """The id of the source with this ``role`` in the registry (registry, attendance, survey, hearing)."""
    for sid, spec in load_registry(p).items():
        if spec.get("role") == role:
            return sid
    raise KeyError(f"登録簿に role: {role} のファイルがありません")


def registry_path(p: Params) -> str:
    """The file of the resident registry (the source whose ``role`` is ``registry``)."""
    return load_registry(p)[role_source(p, "registry")]["path"]


def read_table(p: Params, source: str) -> pd.DataFrame | None:
    """A processed source table of the params' year (``None`` if that source was not loaded)."""
    f = p.processed / f"{source}.parquet"
    return pd.read_parquet(f) if f.exists() else None


def read_identity(p: Params) -> pd.DataFrame:
    """The restricted identity table (linkage and internal reports only)."""
    return pd.read_parquet(p.processed / "restricted" / "identity.parquet")
