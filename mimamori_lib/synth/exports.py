"""Write the synthetic city's exports exactly as the departments' systems would (``raw-exports.md``).

Each department's export style — encoding, line ends, date forms, how often 宛名番号 loses its zeros,
whether variant kanji survive — is data in :data:`STYLES`. Typos of the school network and a small share of
broken rows (bad date, bad key, unknown code, exact duplicate) are applied here; the truth about every
written row (the person behind it, and its defect if any) is returned alongside.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import jaconv
import numpy as np
import pandas as pd

from ..text.japanese import VARIANT_KANJI, era_of, kanji_number
from .city import name_pools

# Per export: encoding, line end, column types, and style knobs. Column types: key, code, text, int,
# name (kanji family+given), kana_half (half-width katakana), hira (hiragana reading), wareki, date, address.
STYLES: dict[str, dict] = {
    "shimin/juki.csv": {"enc": "cp932", "cols": {
        "宛名番号": "key", "世帯番号": "key", "続柄": "code", "氏名": "name", "氏名カナ": "kana_half", "生年月日": "wareki",
        "性別": "code", "住所": "address", "住定日": "wareki", "転入回数": "int", "国籍区分": "code"},
        "zero_loss": 0.01, "fold": 0.0, "wareki": {"R07.04.01": 0.5, "R7.4.1": 0.3, "令和7年4月1日": 0.2}},
    "kosodate/jido_fuyo.csv": {"enc": "cp932", "cols": {
        "受給者宛名番号": "key", "対象児童宛名番号": "key", "支給区分": "code", "認定日": "wareki"},
        "zero_loss": 0.03, "wareki": {"令和7年4月1日": 0.7, "R7.4.1": 0.3}},
    "kosodate/hoiku.csv": {"enc": "cp932", "cols": {
        "児童宛名番号": "key", "施設名": "text", "入所日": "date", "保育料滞納月数": "int"},
        "zero_loss": 0.02, "date": {"%Y/%m/%d": 0.8, "%Y%m%d": 0.2}},
    "hitokurashi/seiho.csv": {"enc": "cp932", "cols": {
        "世帯員宛名番号": "key", "ケース番号": "text", "保護開始日": "wareki", "保護廃止日": "wareki"},
        "zero_loss": 0.02, "wareki": {"H30.12.5": 0.6, "平成30年12月5日": 0.4}},
    "hitokurashi/konkyu.csv": {"enc": "utf-8-sig", "cols": {"相談者宛名番号": "key", "相談日": "date", "主訴": "code"},
        "zero_loss": 0.8, "date": {"%Y/%m/%d": 0.6, "%Y-%m-%d": 0.4}},
    "kodomokatei/yotaikyo.csv": {"enc": "utf-8-sig", "cols": {
        "児童宛名番号": "key", "登録区分": "code", "主たる種別": "code", "登録日": "date", "終結日": "date"},
        "zero_loss": 0.7, "date": {"%Y/%m/%d": 0.9, "%Y%m%d": 0.1}},
    "kodomokatei/soudan.csv": {"enc": "utf-8-sig", "cols": {"児童宛名番号": "key", "相談日": "date", "相談種別": "code"},
        "zero_loss": 0.7, "date": {"%Y-%m-%d": 0.7, "%Y/%m/%d": 0.3}},
    "kenko/kenshin.csv": {"enc": "cp932", "cols": {
        "宛名番号": "key", "健診種別": "code", "受診状況": "code", "受診日": "wareki", "所見": "code"},
        "zero_loss": 0.02, "wareki": {"R07.04.01": 0.7, "令和7年4月1日": 0.3}},
    "kenko/yobosesshu.csv": {"enc": "cp932", "cols": {"宛名番号": "key", "ワクチン": "code", "接種状況": "code"},
        "zero_loss": 0.02},
    "kenko/ninshin.csv": {"enc": "cp932", "cols": {
        "母宛名番号": "key", "児童宛名番号": "key", "届出日": "wareki", "届出時妊娠週数": "int", "届出時母年齢": "int"},
        "zero_loss": 0.02, "wareki": {"R7.4.1": 0.6, "R07.04.01": 0.4}},
    "shogai/techo.csv": {"enc": "cp932", "cols": {"宛名番号": "key", "手帳種別": "code", "等級": "text"},
        "zero_loss": 0.02},
    "shogai/jidoshien.csv": {"enc": "cp932", "cols": {"児童宛名番号": "key", "サービス種別": "code", "支給開始日": "wareki"},
        "zero_loss": 0.02, "wareki": {"令和7年4月1日": 0.5, "R7.4.1": 0.5}},
    "gakko/shusseki.csv": {"enc": "utf-8-sig", "school": True, "cols": {
        "学校名": "text", "学年": "code", "組": "text", "出席番号": "int", "児童生徒氏名": "name", "ふりがな": "hira",
        "生年月日": "date", "性別": "code", "住所": "address_school", "前年度欠席日数": "int", "前年度うち病気欠席": "int",
        "当年度欠席日数": "int", "当年度遅刻回数": "int", "当年度早退回数": "int"},
        "fold": 0.8, "date": {"%Y/%m/%d": 0.7, "%Y-%m-%d": 0.2, "%Y%m%d": 0.1}},
    "gakko/hokenshitsu.csv": {"enc": "utf-8-sig", "school": True, "cols": {
        "学校名": "text", "学年": "code", "組": "text", "出席番号": "int", "児童生徒氏名": "name", "ふりがな": "hira",
        "生年月日": "date", "性別": "code", "来室回数": "int"},
        "fold": 0.8, "date": {"%Y/%m/%d": 0.7, "%Y-%m-%d": 0.2, "%Y%m%d": 0.1}},
    "gakko/kyushoku_minou.csv": {"enc": "utf-8-sig", "school": True, "cols": {
        "学校名": "text", "学年": "code", "児童生徒氏名": "name", "ふりがな": "hira", "生年月日": "date", "未納月数": "int"},
        "fold": 0.8, "date": {"%Y/%m/%d": 1.0}},
    "gakko/tokushi.csv": {"enc": "utf-8-sig", "school": True, "cols": {
        "学校名": "text", "学年": "code", "児童生徒氏名": "name", "ふりがな": "hira", "生年月日": "date", "性別": "code",
        "学級種別": "code"},
        "fold": 0.8, "date": {"%Y/%m/%d": 0.7, "%Y-%m-%d": 0.3}},
    "gakko/shugaku_enjo.csv": {"enc": "cp932", "cols": {
        "保護者宛名番号": "key", "児童生徒氏名": "name", "児童生徒カナ": "kana_half", "生年月日": "wareki", "区分": "code"},
        "zero_loss": 0.03, "fold": 0.5, "typo": 0.01, "wareki": {"H30.12.5": 0.5, "平成30年12月5日": 0.3, "R07.04.01": 0.2}},
    "survey/seikatsu.csv": {"enc": "utf-8-sig", "school": True, "cols": {
        "学校名": "text", "学年": "code", "組": "text", "出席番号": "int", "児童生徒氏名": "name", "ふりがな": "hira",
        "生年月日": "date", "性別": "code", "Q1_朝食": "code", "Q2_就寝時刻": "code", "Q3_スクリーン時間": "code",
        "Q4_家庭学習": "code", "Q5_相談相手": "code", "Q6_学校が楽しい": "code", "Q7_自分には良いところがある": "code",
        "Q8_家族と夕食": "code", "Q9_家の手伝い・世話": "code"},
        "fold": 0.8, "date": {"%Y/%m/%d": 1.0}, "broken": 0.0},
    "hearing/staff.csv": {"enc": "utf-8-sig", "cols": {
        "所属区分": "code", "Q1_対象者認識の一致": "int", "Q2_こども理解の深まり": "int", "Q3_データの有用性": "int",
        "Q4_業務負担": "int", "自由記述": "text"}, "broken": 0.0, "keep_duplicates": True},
}
SCHOOL_TYPO = {"name": 0.012, "reading": 0.015, "birth": 0.007, "sex": 0.001}
# a school's rendering of a foreign pupil's romaji name: as registered / katakana (from the reading) / given name first
FOREIGN_FORMS = {"as_registered": 0.4, "katakana": 0.45, "given_first": 0.15}
BROKEN_RATE = 0.002
BAD_DATES = ["R7.13.40", "2025/02/30", "不明", "0000/00/00", "H31.2.29", "20251341"]
BAD_KEYS = ["12A4", "１２３ー", "?", "A0012345", "123-456"]


def _wareki(d: dt.date, style: str) -> str:
    kanji, letter, y = era_of(d)
    if style == "R07.04.01":
        return f"{letter}{y:02d}.{d.month:02d}.{d.day:02d}"
    if style in ("R7.4.1", "H30.12.5"):
        return f"{letter}{y}.{d.month}.{d.day}"
    year = "元" if y == 1 else str(y)
    return f"{kanji}{year}年{d.month}月{d.day}日"


def _choose(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=w / w.sum())]


def format_dates(values: pd.Series, kind: str, style: dict[str, float], rng: np.random.Generator) -> list[str]:
    """Format dates as a department would: era forms (``wareki``) or western forms (``date``)."""
    styles = _choose(rng, style or ({"R7.4.1": 1.0} if kind == "wareki" else {"%Y/%m/%d": 1.0}), len(values))
    out = []
    for v, s in zip(pd.to_datetime(values), styles, strict=True):
        if pd.isna(v):
            out.append("")
        elif kind == "wareki":
            out.append(_wareki(v.date(), s))
        else:
            out.append(v.strftime(s))
    return out


def format_keys(values: pd.Series, zero_loss: float, rng: np.random.Generator) -> list[str]:
    """10-digit zero-padded 宛名番号, or with its zeros lost by Excel."""
    lost = rng.random(len(values)) < zero_loss
    out = []
    for v, lz in zip(values, lost, strict=True):
        if pd.isna(v) or int(v) < 0:
            out.append("")
        else:
            out.append(str(int(v)) if lz else f"{int(v):010d}")
    return out


def _fold(s: str) -> str:
    return "".join(VARIANT_KANJI.get(ch, ch) for ch in s)


def _space(rng: np.random.Generator, n: int, weights=(0.55, 0.3, 0.15)) -> np.ndarray:
    return np.array(["\u3000", " ", ""], dtype=object)[rng.choice(3, size=n, p=np.array(weights))]


def _homophones() -> dict[str, list[str]]:
    pools = name_pools()
    out: dict[str, list[str]] = {}
    for df in (pools["surnames"], pools["given"]):
        for _kana, grp in df.groupby("kana"):
            ks = sorted(set(grp["kanji"]))
            if len(ks) > 1:
                for k in ks:
                    out[k] = [x for x in ks if x != k]
    return out


_DAKUTEN = dict(zip("かきくけこさしすせそたちつてとはひふへほがぎぐげござじずぜぞだぢづでどばびぶべぼ",
                    "がぎぐげござじずぜぞだぢづでどばびぶべぼかきくけこさしすせそたちつてとはひふへほ", strict=True))


def _reading_typo(s: str, r: float) -> str:
    """One realistic slip in a hiragana reading: a dakuten added or lost, a long vowel written ー, a small っ lost."""
    chars = list(s)
    spots = [i for i, c in enumerate(chars) if c in _DAKUTEN]
    if "う" in chars[1:] and r < 0.3:
        i = chars.index("う", 1)
        chars[i] = "ー"
    elif "っ" in chars and r < 0.45:
        chars.remove("っ")
    elif spots:
        i = spots[int(r * 1000) % len(spots)]
        chars[i] = _DAKUTEN[chars[i]]
    elif len(chars) > 2:
        chars.pop(len(chars) // 2)
    return "".join(chars)


def _birth_typo(d: pd.Timestamp, r: float) -> pd.Timestamp:
    if r < 0.45:
        return d + pd.Timedelta(days=1 if r < 0.25 else -1)
    if r < 0.7 and d.day <= 12 and d.day != d.month:
        return d.replace(month=d.day, day=d.month)
    if r < 0.9:
        m = d.month % 12 + 1
        return d.replace(month=m, day=min(d.day, 28))
    return d.replace(year=d.year - 1 if r < 0.95 else d.year + 1, day=min(d.day, 28) if d.month == 2 else d.day)


def school_master(uids: np.ndarray, seed: int, fy: int) -> pd.DataFrame:
    """The school network's typos per pupil (one draw per pupil and year, shared by every school file)."""
    u = np.unique(uids)
    rng = np.random.default_rng([seed, fy, 3])
    df = pd.DataFrame({"uid": u})
    for k, rate in SCHOOL_TYPO.items():
        df[k] = rng.random(len(u)) < rate
        df[f"{k}_r"] = rng.random(len(u))
    df["fold"] = rng.random(len(u))
    df["space"] = rng.choice(3, size=len(u), p=[0.45, 0.35, 0.2])
    df["addr"] = rng.choice(4, size=len(u), p=[0.35, 0.25, 0.25, 0.15])
    # how a school writes a foreign pupil's romaji name: as registered, in katakana from its reading, or given
    # name first (drawn last, so that the draws above stay as they were)
    df["foreign_form"] = rng.choice(3, size=len(u), p=list(FOREIGN_FORMS.values()))
    return df.set_index("uid")


def _names(df: pd.DataFrame, style: dict, rng: np.random.Generator, master: pd.DataFrame | None,
           typo_rate: float, homophones: dict[str, list[str]]) -> tuple[list, list, list, list]:
    """Kanji names and readings (before script conversion), with folding and typos applied."""
    n = len(df)
    fam, giv = df["_family"].astype(str).to_numpy(), df["_given"].astype(str).to_numpy()
    fk, gk = df["_family_kana"].astype(str).to_numpy(), df["_given_kana"].astype(str).to_numpy()
    if master is not None:
        mm = master.reindex(df["_uid"].to_numpy())
        fold_r, name_t, name_r = mm["fold"].to_numpy(), mm["name"].to_numpy(), mm["name_r"].to_numpy()
        read_t, read_r = mm["reading"].to_numpy(), mm["reading_r"].to_numpy()
        spaces = np.array(["\u3000", " ", ""], dtype=object)[mm["space"].to_numpy()]
    else:
        fold_r = rng.random(n)
        name_t = rng.random(n) < typo_rate
        name_r = rng.random(n)
        read_t = rng.random(n) < typo_rate
        read_r = rng.random(n)
        spaces = _space(rng, n)
    fold = fold_r < style.get("fold", 0.0)
    out_f, out_g, out_fk, out_gk = [], [], [], []
    for i in range(n):
        f, g = fam[i], giv[i]
        if fold[i]:
            f, g = _fold(f), _fold(g)
        if name_t[i]:
            target = g if name_r[i] < 0.6 else f
            alts = homophones.get(target)
            if alts:
                alt = alts[int(name_r[i] * 997) % len(alts)]
                f, g = (f, alt) if target == g else (alt, g)
        out_f.append(f)
        out_g.append(g)
        k1, k2 = fk[i], gk[i]
        if read_t[i]:
            if read_r[i] < 0.5:
                k2 = jaconv.hira2kata(_reading_typo(jaconv.kata2hira(k2), read_r[i] * 2))
            else:
                k1 = jaconv.hira2kata(_reading_typo(jaconv.kata2hira(k1), read_r[i] * 2 - 1))
        out_fk.append(k1)
        out_gk.append(k2)
    return out_f, out_g, out_fk, out_gk, spaces


def _school_address(addr: str, form: int) -> str:
    """The school's own way of writing an address: as registered, with dashes, full-width, city dropped."""
    m = re.match(r"^(別府市)?(.+?)(\d+)丁目(\d+)番(\d+)号(.*)$", addr)
    m2 = re.match(r"^(別府市)?(.+?)(\d+)番(\d+)号(.*)$", addr)
    if form == 0 or not (m or m2):
        return addr
    if m:
        city, town, c, b, g, rest = m.groups()
        if form == 1:
            return jaconv.h2z(f"別府市{town}{c}-{b}-{g}", digit=True, ascii=True) + rest
        if form == 2:
            return f"{town}{c}-{b}-{g}{rest}"
        return f"別府市{town}{kanji_number(int(c))}丁目{b}番{g}号{rest}"
    city, town, b, g, rest = m2.groups()
    if form == 1:
        return jaconv.h2z(f"別府市{town}{b}-{g}", digit=True, ascii=True) + rest
    return f"{town}{b}-{g}{rest}"


def render(path: str, df: pd.DataFrame, seed: int, fy: int, master: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Format a clean table as the department exports it; returns (text table, truth per written row)."""
    style = STYLES[path]
    rng = np.random.default_rng([seed, fy, sum(path.encode())])
    cols = style["cols"]
    is_school = style.get("school", False)
    out = pd.DataFrame(index=df.index)
    homophones = _homophones()
    names = None
    for col, kind in cols.items():
        if kind == "key":
            out[col] = format_keys(df[col], style.get("zero_loss", 0.0), rng)
        elif kind in ("wareki", "date"):
            vals = df[col]
            if is_school and col == "生年月日" and master is not None:
                mm = master.reindex(df["_uid"].to_numpy())
                vals = pd.Series([_birth_typo(d, r) if t else d for d, t, r in
                                  zip(pd.to_datetime(vals), mm["birth"], mm["birth_r"], strict=True)], index=df.index)
            elif col == "生年月日" and style.get("typo"):
                t = rng.random(len(vals)) < style["typo"] / 2
                r = rng.random(len(vals))
                vals = pd.Series([_birth_typo(d, rr) if tt else d for d, tt, rr in zip(pd.to_datetime(vals), t, r, strict=True)], index=df.index)
            out[col] = format_dates(vals, kind, style.get(kind), rng)
        elif kind == "int":
            v = df[col].to_numpy()
            s = np.array(["" if pd.isna(x) or int(x) < 0 else str(int(x)) for x in v], dtype=object)
            if style["enc"] == "utf-8-sig":
                fw = rng.random(len(s)) < 0.03
                s = np.where(fw, [jaconv.h2z(x, digit=True) for x in s], s)
            out[col] = s
        elif kind in ("name", "kana_half", "hira"):
            if names is None:
                names = _names(df, style, rng, master if is_school else None, style.get("typo", 0.0), homophones)
            f, g, fk, gk, sp = names
            script = df["_script"].to_numpy() if "_script" in df else np.array(["ja"] * len(df))
            form = (master.reindex(df["_uid"].to_numpy())["foreign_form"].to_numpy() if is_school and master is not None
                    else np.zeros(len(df), int))
            form = np.where(script == "romaji", form, 0)
            if kind == "name":
                out[col] = [(a + s + b) if sc != "romaji" else (f"{ka} {kb}" if fm == 1 else f"{b} {a}" if fm == 2 else f"{a} {b}")
                            for a, b, ka, kb, s, sc, fm in zip(f, g, fk, gk, sp, script, form, strict=True)]
            elif kind == "kana_half":
                ksp = np.where(sp == "", "", " ")
                out[col] = [jaconv.z2h(a + s + b, kana=True, ascii=False, digit=False) for a, b, s in zip(fk, gk, ksp, strict=True)]
            else:
                out[col] = [jaconv.kata2hira((b + " " + a) if fm == 2 else (a + s + b))
                            for a, b, s, fm in zip(fk, gk, sp, form, strict=True)]
        elif kind == "address_school":
            forms = master.reindex(df["_uid"].to_numpy())["addr"].to_numpy() if master is not None else np.zeros(len(df), int)
            out[col] = [_school_address(a, int(f)) for a, f in zip(df[col], forms, strict=True)]
        elif kind == "code" and is_school and col == "性別" and master is not None:
            mm = master.reindex(df["_uid"].to_numpy())
            out[col] = np.where(mm["sex"].to_numpy(), np.where(df[col] == "男", "女", "男"), df[col])
        else:
            out[col] = df[col].fillna("").astype(str).to_numpy()
    truth = pd.DataFrame({"uid": df["_uid"].to_numpy(), "defect": ""})
    out = out.reset_index(drop=True)
    out, truth = _break_rows(out, truth, cols, style.get("broken", BROKEN_RATE), rng)
    return out, truth


def _break_rows(out: pd.DataFrame, truth: pd.DataFrame, cols: dict[str, str], rate: float,
                rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt a small share of rows (bad date, bad key, unknown code) and add exact duplicates."""
    n = len(out)
    if n < 50 or rate <= 0:
        return out, truth
    k = max(2, int(round(n * rate)))
    kinds = []
    if any(v in ("wareki", "date") for v in cols.values()):
        kinds.append("bad_date")
    if any(v == "key" for v in cols.values()):
        kinds.append("bad_key")
    if any(v == "code" for v in cols.values()):
        kinds.append("bad_code")
    kinds.append("duplicate")
    rows = rng.choice(n, size=k, replace=False)
    out = out.copy()
    dups = []
    for j, r in enumerate(sorted(rows)):
        kind = kinds[j % len(kinds)]
        if kind == "bad_date":
            c = [c for c, v in cols.items() if v in ("wareki", "date") and out.at[r, c] != ""] or \
                [c for c, v in cols.items() if v in ("wareki", "date")]
            out.at[r, c[0]] = BAD_DATES[int(rng.integers(len(BAD_DATES)))]
        elif kind == "bad_key":
            c = [c for c, v in cols.items() if v == "key"][0]
            out.at[r, c] = BAD_KEYS[int(rng.integers(len(BAD_KEYS)))]
        elif kind == "bad_code":
            c = [c for c, v in cols.items() if v == "code"][0]
            out.at[r, c] = "不明コード" if not out.at[r, c].isdigit() else "99"
        else:
            dups.append(r)
            continue
        truth.at[r, "defect"] = kind
    if dups:
        # each duplicate is inserted somewhere after its original (the later copy is the broken one)
        # copy of row r goes just before original row ``pos`` (r < pos <= n): sort keys, O(n log n)
        dups = np.array(dups)
        pos = np.array([int(rng.integers(r + 1, n + 1)) for r in dups]) - 0.5
        keys = np.concatenate([np.arange(n, dtype=float), pos])
        order = np.concatenate([np.arange(n), dups])[np.argsort(keys, kind="stable")]
        is_dup = np.concatenate([np.zeros(n, bool), np.ones(len(dups), bool)])[np.argsort(keys, kind="stable")]
        out = out.iloc[order].reset_index(drop=True)
        truth = truth.iloc[order].reset_index(drop=True)
        truth.loc[is_dup, "defect"] = "duplicate"
    return out, truth


def write_csv(out: pd.DataFrame, target: Path, encoding: str) -> None:
    """Write text cells exactly: CRLF for files saved from Excel (utf-8-sig), LF for the others."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if encoding == "utf-8-sig" else "\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(list(out.columns))
    w.writerows(out.itertuples(index=False, name=None))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buf.getvalue().encode(encoding))
