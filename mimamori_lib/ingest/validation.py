"""Row validation with a pandera schema built from the registry; failing rows become quarantine lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..normalize import map_unique, nfkc, normalize_atena, parse_date, parse_int

WHOLE_ROW = "(行全体)"


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
            if c["type"] == "key":  # (values are NFKC'd already) the 10-digit form exists: up to ten ASCII digits
                checks.append(pa.Check(lambda s: s.astype("string").str.fullmatch(r"[0-9]{1,10}").fillna(False).astype(bool),
                                       error=reason, ignore_na=True))
            else:
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


