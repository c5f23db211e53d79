"""Row validation with a pandera schema built from the registry; failing rows become quarantine lines."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..text.normalize import map_unique, nfkc, normalize_atena, parse_date, parse_int

WHOLE_ROW = "(行全体)"


def code_map(col: dict) -> dict[str, str]:
    """A code column's accepted values (as NFKC'd) → canonical code: the codes themselves and the city's ``values``."""
    out = {nfkc(str(c)): str(c) for c in col.get("codes", [])}
    out.update({nfkc(str(k)): str(v) for k, v in (col.get("values") or {}).items()})
    return out


def _valid(kind: str, col: dict) -> callable:
    """Element validity for a column type (values already NFKC'd; blanks handled by nullability)."""
    if kind == "key":
        return lambda v: normalize_atena(v) is not None
    if kind in ("date", "wareki"):
        serial = bool(col.get("serial"))
        return lambda v: parse_date(v, serial) is not None
    if kind == "int":
        return lambda v: parse_int(v) is not None
    if kind == "code":
        accepted = code_map(col)
        return lambda v: v in accepted
    return lambda v: True


REASONS = {
    "key": "宛名番号として読めません (数字 10 桁以内ではありません)",
    "date": "日付として読めません", "wareki": "日付として読めません",
    "int": "整数として読めません",
    "code": "不明なコードです",
}


def bound(value, reference: dt.date | None) -> dt.date | int | float | None:
    """A range bound of the registry: a number, a date (``1900-01-01``), or the reference date with an offset in years
    (``@ref``, ``@ref+1y``)."""
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, dt.date):
        return value
    m = re.fullmatch(r"@ref(?:([+-]\d+)y)?", str(value).strip())
    if m:
        if reference is None:
            return None
        years = int(m[1] or 0)
        try:
            return reference.replace(year=reference.year + years)
        except ValueError:  # 29 February
            return reference.replace(year=reference.year + years, day=28)
    return dt.date.fromisoformat(str(value))


def _range(kind: str, col: dict, reference: dt.date | None):
    """(test of one value, reason) for a column's range, or None when it has none."""
    lo, hi = bound(col.get("min"), reference), bound(col.get("max"), reference)
    if lo is None and hi is None:
        return None
    parse = parse_int if kind == "int" else (lambda v: parse_date(v, bool(col.get("serial"))))
    shown = f"{'' if lo is None else lo}〜{'' if hi is None else hi}"

    def inside(v) -> bool:
        x = parse(v)
        return x is None or ((lo is None or x >= lo) and (hi is None or x <= hi))  # unreadable: the type check's

    return inside, f"範囲外の値です ({shown})"


def build_schema(spec: dict, headers: list[str], exact_dup: pd.Series, reference: dt.date | None = None) -> pa.DataFrameSchema:
    """A pandera schema for the loaded columns of one source, from the registry: types, codes, ranges, required."""
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
                reason = f"不明なコードです (有効: {'・'.join(code_map(c))})"
            if c["type"] == "key":  # (values are NFKC'd already) the 10-digit form exists: up to ten ASCII digits
                checks.append(pa.Check(lambda s: s.astype("string").str.fullmatch(r"[0-9]{1,10}").fillna(False).astype(bool),
                                       error=reason, ignore_na=True))
            else:
                checks.append(pa.Check(lambda s, fn=fn: map_unique(s, fn).astype(bool), error=reason, ignore_na=True))
        rng = _range(c["type"], c, reference) if c["type"] in ("int", "date", "wareki") else None
        if rng is not None:
            checks.append(pa.Check(lambda s, fn=rng[0]: map_unique(s, fn).astype(bool), error=rng[1], ignore_na=True))
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


def too_long(spec: dict, lengths: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    """Cells longer than their column's ``max_length`` (as exported): (row index, column, length, reason)."""
    out = []
    for h in lengths.columns:
        limit = spec["columns"][h].get("max_length")
        if limit is None:
            continue
        n = lengths[h]
        for idx in n.index[(n > int(limit)).fillna(False).to_numpy(dtype=bool)]:
            out.append((idx, h, f"{int(n[idx]):,} 文字", f"値が長すぎます (上限 {int(limit):,} 文字)"))
    return out


def validate(spec: dict, df: pd.DataFrame, first_of: dict[int, int], lengths: pd.DataFrame | None = None,
             reference: dt.date | None = None, line_of=None) -> tuple[pd.Series, pd.DataFrame]:
    """Validate one source's cells (``df``, indexed by row index; ``first_of``: each row that repeats an earlier one
    as exported → that row; ``line_of``: each row index's line in the file, for messages). Returns (ok mask,
    quarantine lines with 1-based ``row``)."""
    line = (lambda i: int(line_of[i])) if line_of is not None else (lambda i: i + 1)
    exact = pd.Series(df.index.isin(list(first_of)), index=df.index)
    long_lines = too_long(spec, lengths) if lengths is not None and len(lengths) else []
    checked = df.drop(index=sorted({x[0] for x in long_lines}))  # a value too long is not shown or checked further
    schema = build_schema(spec, list(df.columns), exact, reference)
    lines = list(long_lines)
    try:
        schema.validate(checked, lazy=True)
        fc = None
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    if fc is not None:
        fc = fc[fc["index"].notna()].copy()
        fc["index"] = fc["index"].astype(int)
        for (idx, check), grp in fc.groupby(["index", "check"], sort=True):
            if check == "EXACT_DUP":
                lines.append((idx, WHOLE_ROW, f"{line(first_of[idx])} 行目と同一", "前の行と完全に重複しています"))
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
    return pd.Series(ok, index=df.index), q.sort_values(["row"], kind="stable")[["row", "column", "value", "reason"]]
