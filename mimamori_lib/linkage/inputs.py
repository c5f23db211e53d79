"""The two sides of 名寄せ: registry children of school age, and the school network's records (every source in one
table), with the columns the comparisons use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..catalogue.ages import age_on
from ..catalogue.registry import load_registry, registry_path
from ..params import Params
from ..text.gaiji import SELECTORS
from ..text.normalize import arrow_text, map_unique_text, text_series

REGISTRY = "a_registry"  # sorts first: Splink puts it on the left of every pair
RECORDS = "b_records"
COLUMNS = ["unique_id", "family_name", "given_name", "family_kana", "given_kana", "full_name", "full_kana",
           "name_tokens", "kana_tokens", "given_is_kanji", "birth_date", "birth_ym", "sex", "address", "block", "town",
           "school", "district_elem", "district_jhs", "household_id", "moved_recently"]
TEXT = pd.StringDtype("pyarrow")  # every column of both sides: text in Arrow, as DuckDB reads it without a copy
RECENT_MOVE_MONTHS = 12  # a move within this many months before the reference date makes an old address expected


def _sorted_parts(name: str | None) -> str | None:
    """A name's parts in sorted order (``NGUYEN VAN AN`` and ``VAN AN NGUYEN`` → ``AN NGUYEN VAN``), upper-cased."""
    if name is None:
        return None
    v = name.upper()
    if v.count(" ") == 1:
        first, second = v.split(" ", 1)
        return f"{first} {second}" if first <= second else f"{second} {first}"
    return " ".join(sorted(v.split())) if " " in v else v


def _tokens(s: pd.Series) -> pd.Series:
    """:func:`_sorted_parts` of a name column, once per distinct name (Arrow-backed text)."""
    return map_unique_text(s, _sorted_parts)


def _dates(birth: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (what the comparisons and blocking rules use)."""
    b = pd.to_datetime(birth).to_numpy(dtype="datetime64[D]")
    txt = np.datetime_as_string(b, unit="D")
    return pd.Series(np.where(np.isnat(b), None, txt), index=birth.index, dtype=TEXT)


def _missing(df: pd.DataFrame) -> pd.Series:
    """A text column with nothing in it, for every row of ``df``."""
    return pd.Series(pd.NA, index=df.index, dtype=TEXT)


def _text(df: pd.DataFrame, column: str) -> pd.Series:
    """A column as Arrow-backed text (missing where the frame has no such column); string operations on it run in
    Arrow, not once per row in Python."""
    return df[column].astype(TEXT) if column in df else _missing(df)


def _street(address: pd.Series) -> pd.Series:
    """The street part of an address (before the first space: the building is not compared)."""
    parts = pc.split_pattern(arrow_text(address), " ", max_splits=1)
    return text_series(pc.list_element(parts, 0), address.index)


def _leading(text: pd.Series, pattern: str) -> pd.Series:
    """The part of each text that ``pattern`` matches at its start (missing where it does not), in Arrow."""
    found = pc.extract_regex(arrow_text(text), f"^(?P<part>{pattern})")
    return text_series(pc.struct_field(found, "part"), text.index)


def _common(df: pd.DataFrame) -> pd.DataFrame:
    # variation selectors (葛 + U+E0100) are kept for display, not compared
    text = {c: _text(df, c).str.replace(SELECTORS.pattern, "", regex=True)
            for c in ("family_name", "given_name", "family_kana", "given_kana", "name", "name_kana", "address")}
    out = pd.DataFrame({c: text[c].replace("", pd.NA) for c in ("family_name", "given_name", "family_kana", "given_kana")})
    out["full_name"] = (out["family_name"].fillna("") + out["given_name"].fillna("")).replace("", pd.NA)
    out["full_kana"] = (out["family_kana"].fillna("") + out["given_kana"].fillna("")).replace("", pd.NA)
    out["name_tokens"] = _tokens(text["name"])
    out["kana_tokens"] = _tokens(text["name_kana"])
    out["given_is_kanji"] = np.where(out["given_name"].str.contains("[\u4e00-\u9fff]", regex=True).fillna(False).to_numpy(),
                                     "1", "0")
    out["birth_date"] = _dates(df["birth_date"])
    out["birth_ym"] = out["birth_date"].str.slice(0, 7)
    out["sex"] = _text(df, "sex")
    street = _street(text["address"])
    out["address"] = street
    out["block"] = _leading(street, r"\D+\d+")
    out["town"] = _leading(street, r"\D+")
    return out


def registry_side(ident: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Registry children of school age (with a margin): the left side of every pair."""
    reg = ident[(ident["source"] == registry_path(p)).to_numpy()].copy()
    lo, hi = p.linkage.registry_age
    reg = reg[age_on(reg["birth_date"], p.reference_date).between(lo, hi).to_numpy()]
    out = _common(reg)
    out.insert(0, "unique_id", reg["person_id"].astype(TEXT).array)
    # what training samples over: the row in the registry export, never the pseudonym (another key, the same sample)
    out["train_id"] = (f"{p.linkage.sample_seed}:R:" + reg["row"].astype(int).astype(str)).astype(TEXT).array
    out["school"] = _missing(out)
    out["household_id"] = reg["household_id"].astype(TEXT).array
    since = pd.to_datetime(reg["resident_since"]) if "resident_since" in reg else pd.Series(pd.NaT, index=reg.index)
    recent = since > pd.Timestamp(p.reference_date) - pd.DateOffset(months=RECENT_MOVE_MONTHS)
    out["moved_recently"] = np.where(recent.to_numpy(), "1", "0")
    return out.reset_index(drop=True)


def record_id(source_index: int, row: pd.Series | int, seed: int = 1) -> pd.Series | str:
    """A record's id in the linkage: ``<seed>:<source index>:<row>`` (the export's own identity: what the training
    samples are drawn over, whatever the key)."""
    if isinstance(row, int | np.integer):
        return f"{seed}:{source_index}:{int(row)}"
    return (f"{seed}:{source_index}:" + row.astype(int).astype(str)).astype(TEXT)


def records_side(ident: pd.DataFrame, p: Params, sources: list[str], registry_households: pd.Series) -> pd.DataFrame:
    """Every school-network record of the year (one table, ``source`` and ``row`` kept): the right side."""
    reg = load_registry(p)
    frames = []
    for i, sid in enumerate(sources):
        path = reg[sid]["path"]
        rec = ident[(ident["source"] == path).to_numpy()]
        if rec.empty:
            continue
        out = _common(rec)
        out.insert(0, "unique_id", record_id(i, rec["row"], p.linkage.sample_seed).array)
        out["school"] = _text(rec, "school").array
        # 就学援助: the parent's 宛名番号 names the household the child should be in
        if "parent_person_id" in rec and rec["parent_person_id"].notna().any():
            out["household_id"] = rec["parent_person_id"].map(registry_households).astype(TEXT).array
        else:
            out["household_id"] = _missing(out)
        out["moved_recently"] = _missing(out)
        out["source"] = pd.Series(path, index=out.index, dtype=TEXT)
        out["row"] = rec["row"].astype(int).to_numpy()
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=[*COLUMNS, "source", "row"])
    return pd.concat(frames, ignore_index=True)


def add_districts(registry: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """School district of each registry town, learnt from exact matches (name, reading and birth date)."""
    key = ["full_name", "full_kana", "birth_date"]
    r = registry.dropna(subset=key).drop_duplicates(key, keep=False)
    s = records.dropna(subset=[*key, "school"]).drop_duplicates(key, keep=False)
    m = r.merge(s[[*key, "school"]], on=key, suffixes=("", "_rec"))
    m = m.dropna(subset=["town"])
    out = registry.copy()
    for level, pat in (("district_elem", "小学校"), ("district_jhs", "中学校")):
        mm = m[m["school_rec"].str.contains(pat, na=False)]
        mode = mm.groupby("town")["school_rec"].agg(lambda x: x.value_counts().index[0]) if len(mm) else pd.Series(dtype=str)
        out[level] = out["town"].map(mode).astype(TEXT)
    return out
