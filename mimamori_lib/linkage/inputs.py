"""The two sides of 名寄せ: registry children of school age, and the school network's records (every source in one
table), with the columns the comparisons use."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalogue.ages import age_on
from ..catalogue.registry import load_registry, registry_path
from ..params import Params
from ..text.gaiji import SELECTORS

REGISTRY = "a_registry"  # sorts first: Splink puts it on the left of every pair
RECORDS = "b_records"
COLUMNS = ["unique_id", "family_name", "given_name", "family_kana", "given_kana", "full_name", "full_kana",
           "name_tokens", "kana_tokens", "given_is_kanji", "birth_date", "birth_ym", "sex", "address", "block", "town",
           "school", "district_elem", "district_jhs", "household_id", "moved_recently"]
RECENT_MOVE_MONTHS = 12  # a move within this many months before the reference date makes an old address expected


def _tokens(s: pd.Series) -> pd.Series:
    """A name's parts in sorted order (``NGUYEN VAN AN`` and ``VAN AN NGUYEN`` → ``AN NGUYEN VAN``). Two-part names
    (almost all) are ordered without a Python loop."""
    v = s.astype("string").str.upper()
    parts = v.str.count(" ")
    two = v.str.split(" ", n=1)
    first, second = two.str[0], two.str[1]
    out = pd.Series(np.where((first <= second).fillna(True), first + " " + second, second + " " + first),
                    index=s.index, dtype="object")
    out[(parts == 0).fillna(False).to_numpy()] = v[(parts == 0).fillna(False).to_numpy()]
    many = (parts > 1).fillna(False).to_numpy()
    out[many] = v[many].map(lambda x: " ".join(sorted(x.split())))
    out[v.isna().to_numpy()] = None
    return pd.Series(out, index=s.index, dtype="string")


def _dates(birth: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (what the comparisons and blocking rules use)."""
    b = pd.to_datetime(birth).to_numpy(dtype="datetime64[D]")
    txt = np.datetime_as_string(b, unit="D")
    return pd.Series(np.where(np.isnat(b), None, txt), index=birth.index, dtype="string")


def _common(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("family_name", "given_name", "family_kana", "given_kana", "name", "name_kana", "address"):
        if c in df:  # variation selectors (葛 + U+E0100) are kept for display, not compared
            df[c] = df[c].astype("string").str.replace(SELECTORS.pattern, "", regex=True)
    out = pd.DataFrame({
        "family_name": df["family_name"], "given_name": df["given_name"],
        "family_kana": df.get("family_kana"), "given_kana": df.get("given_kana"),
    })
    for c in out.columns:
        out[c] = out[c].astype("string").replace("", pd.NA)
    out["full_name"] = (out["family_name"].fillna("") + out["given_name"].fillna("")).replace("", pd.NA)
    out["full_kana"] = (out["family_kana"].fillna("") + out["given_kana"].fillna("")).replace("", pd.NA)
    out["name_tokens"] = _tokens(df["name"]) if "name" in df else pd.NA
    out["kana_tokens"] = _tokens(df["name_kana"]) if "name_kana" in df else pd.NA
    out["given_is_kanji"] = np.where(out["given_name"].str.contains("[\u4e00-\u9fff]", regex=True).fillna(False).to_numpy(),
                                     "1", "0")
    out["birth_date"] = _dates(df["birth_date"])
    out["birth_ym"] = out["birth_date"].str.slice(0, 7)
    out["sex"] = df["sex"].astype("string") if "sex" in df else pd.Series(pd.NA, index=df.index, dtype="string")
    addr = df["address"].astype("string") if "address" in df else pd.Series(pd.NA, index=df.index, dtype="string")
    street = addr.str.split(" ", n=1).str[0]
    out["address"] = street
    out["block"] = street.str.extract(r"^(\D+\d+)", expand=False).astype("string")
    out["town"] = street.str.extract(r"^(\D+)", expand=False).astype("string")
    return out


def registry_side(ident: pd.DataFrame, p: Params) -> pd.DataFrame:
    """Registry children of school age (with a margin): the left side of every pair."""
    reg = ident[(ident["source"] == registry_path(p)).to_numpy()].copy()
    lo, hi = p.linkage.registry_age
    reg = reg[age_on(reg["birth_date"], p.reference_date).between(lo, hi).to_numpy()]
    out = _common(reg)
    out.insert(0, "unique_id", reg["person_id"].astype("string").to_numpy())
    # what training samples over: the row in the registry export, never the pseudonym (another key, the same sample)
    out["train_id"] = (f"{p.linkage.sample_seed}:R:" + reg["row"].astype(int).astype(str)).astype("string").to_numpy()
    out["school"] = pd.NA
    out["household_id"] = reg["household_id"].astype("string").to_numpy()
    since = pd.to_datetime(reg["resident_since"]) if "resident_since" in reg else pd.Series(pd.NaT, index=reg.index)
    recent = since > pd.Timestamp(p.reference_date) - pd.DateOffset(months=RECENT_MOVE_MONTHS)
    out["moved_recently"] = np.where(recent.to_numpy(), "1", "0")
    return out.reset_index(drop=True)


def record_id(source_index: int, row: pd.Series | int, seed: int = 1) -> pd.Series | str:
    """A record's id in the linkage: ``<seed>:<source index>:<row>`` (the export's own identity: what the training
    samples are drawn over, whatever the key)."""
    if isinstance(row, int | np.integer):
        return f"{seed}:{source_index}:{int(row)}"
    return (f"{seed}:{source_index}:" + row.astype(int).astype(str)).astype("string")


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
        out.insert(0, "unique_id", record_id(i, rec["row"], p.linkage.sample_seed).to_numpy())
        out["school"] = rec["school"].astype("string").to_numpy() if "school" in rec else pd.NA
        # 就学援助: the parent's 宛名番号 names the household the child should be in
        if "parent_person_id" in rec and rec["parent_person_id"].notna().any():
            out["household_id"] = rec["parent_person_id"].map(registry_households).astype("string").to_numpy()
        else:
            out["household_id"] = pd.NA
        out["moved_recently"] = pd.NA
        out["source"] = path
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
        out[level] = out["town"].map(mode).astype("string")
    return out
