"""The synthetic city holds to the input contract and to its calibration targets."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from mimamori_lib.synth.generate import generate

from .spec_headers import SPEC


def read(root: Path, fy: str, path: str) -> pd.DataFrame:
    enc = SPEC[path][0]
    return pd.read_csv(root / "raw" / fy / path, dtype=str, keep_default_na=False, encoding=enc)


def num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.map(lambda x: unicodedata.normalize("NFKC", x)), errors="coerce")


@pytest.mark.parametrize("fy", ["fy2024", "fy2025"])
def test_every_file_header_and_encoding(beppu: Path, fy: str) -> None:
    for path, (enc, header) in SPEC.items():
        f = beppu / "raw" / fy / path
        if path == "survey/seikatsu.csv" and fy == "fy2024":
            assert not f.exists(), "the lifestyle survey starts in FY2025"
            continue
        data = f.read_bytes()
        if enc == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf"), path
            assert b"\r\n" in data, f"{path}: Excel files end lines with CRLF"
        else:
            assert not data.startswith(b"\xef\xbb\xbf"), path
            data.decode("cp932")
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        first = data.decode(enc).splitlines()[0]
        assert first.split(",") == header, path
        assert len(data.decode(enc).splitlines()) > 10, f"{path} has rows"


def test_quirks_present(beppu: Path) -> None:
    juki = read(beppu, "fy2025", "shimin/juki.csv")
    assert juki["氏名カナ"].str.contains(r"[ｦ-ﾟ]").mean() > 0.95, "half-width katakana"
    names = juki["氏名"]
    assert names.str.contains("\u3000").any() and names.str.contains(" ").any()
    assert (~names.str.contains("[\u3000 ]")).any(), "some names without a space"
    assert names.str.contains("[髙﨑邊邉齋齊澤濱德廣嶋冨眞櫻]").any(), "variant kanji"
    dates = juki["生年月日"]
    for pattern in (r"^[RHS]\d\.", r"^[RHS]\d\d\.\d\d\.\d\d$", r"^(?:令和|平成|昭和)"):
        assert dates.str.contains(pattern).any(), pattern
    keys = juki["宛名番号"]
    assert (keys.str.len() == 10).mean() > 0.9
    konkyu = read(beppu, "fy2025", "hitokurashi/konkyu.csv")
    assert (konkyu["相談者宛名番号"].str.len() < 10).mean() > 0.5, "Excel lost the leading zeros"
    assert konkyu["相談日"].str.contains("/").any() and konkyu["相談日"].str.contains("-").any()
    sh = read(beppu, "fy2025", "gakko/shusseki.csv")
    assert sh["ふりがな"].str.contains("[ぁ-ゖ]").mean() > 0.9, "hiragana readings"
    assert sh["生年月日"].str.contains("/").any() and sh["生年月日"].str.fullmatch(r"\d{8}").any()
    assert sh["当年度欠席日数"].str.contains("[０-９]").any(), "full-width digits in Excel files"
    addr = sh["住所"]
    assert addr.str.contains("丁目").any() and addr.str.contains("－").any()
    assert (~addr.str.startswith("別府市")).any(), "city name dropped"
    assert addr.str.contains("[一二三四五六七八九十]丁目").any(), "kanji numerals in 丁目"
    era = read(beppu, "fy2025", "hitokurashi/seiho.csv")["保護開始日"]
    assert era.str.contains("^平成").any() or era.str.contains("^H").any()
    assert read(beppu, "fy2025", "kodomokatei/yotaikyo.csv")["終結日"].eq("").any(), "blank while open"
    assert read(beppu, "fy2025", "kenko/ninshin.csv")["児童宛名番号"].eq("").any(), "unborn children"
    assert read(beppu, "fy2025", "gakko/shugaku_enjo.csv")["児童生徒カナ"].str.contains(r"[ｦ-ﾟ]").mean() > 0.95
    assert juki["国籍区分"].eq("2").any()
    assert juki["氏名"].str.contains("[A-Z]").any(), "romaji names of foreign residents"


def test_broken_rows_are_real_and_counted(beppu: Path) -> None:
    rows = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "rows.csv", dtype=str, keep_default_na=False)
    kinds = set(rows["defect"]) - {""}
    assert kinds == {"bad_date", "bad_key", "bad_code", "duplicate"}
    assert 0.001 < (rows["defect"] != "").mean() < 0.005
    for path, grp in rows[rows["defect"] != ""].groupby("source"):
        df = read(beppu, "fy2025", path)
        assert len(df) == int(rows[rows["source"] == path]["row"].astype(int).max())
        for _, r in grp.iterrows():
            line = df.iloc[int(r["row"]) - 1]
            if r["defect"] == "duplicate":
                earlier = df.iloc[: int(r["row"]) - 1]
                assert (earlier == line).all(axis=1).any(), f"{path} row {r['row']} duplicates an earlier row"
            elif r["defect"] == "bad_key":
                keys = [c for c in df.columns if "宛名番号" in c]
                assert any(not re.fullmatch(r"\d*", line[c]) for c in keys)


def test_truth_matches_files(beppu: Path) -> None:
    for fy in ("fy2024", "fy2025"):
        rows = pd.read_csv(beppu / "synthetic_truth" / fy / "rows.csv", dtype=str, keep_default_na=False)
        juki = read(beppu, fy, "shimin/juki.csv")
        t = rows[rows["source"] == "shimin/juki.csv"].reset_index(drop=True)
        assert len(t) == len(juki)
        ok = t["defect"] == ""
        assert (juki["宛名番号"][ok].str.zfill(10) == t["atena_no"][ok]).all()
        # school rows point at registry children whose birth date matches (bar typos)
        kids = pd.read_csv(beppu / "synthetic_truth" / fy / "children.csv", dtype=str, keep_default_na=False)
        sh = read(beppu, fy, "gakko/shusseki.csv")
        ts = rows[rows["source"] == "gakko/shusseki.csv"].reset_index(drop=True)
        m = ts.assign(dob=sh["生年月日"]).merge(kids[["uid", "birth"]], on="uid", how="left")
        on_reg = m["birth"].notna()
        assert 0.99 < on_reg.mean() < 1.0, "a few pupils are registered elsewhere"
        iso = pd.to_datetime(m["dob"], format="mixed", errors="coerce").dt.strftime("%Y-%m-%d")
        agree = (iso == m["birth"])[on_reg & (m["defect"] == "")]
        assert 0.985 < agree.mean() < 1.0, "birth-date typos near 0.7%"


def test_calibration_targets(beppu: Path) -> None:
    kids = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "children.csv")
    assert 16000 < len(kids) < 17500
    assert kids["low_income"].mean() == pytest.approx(0.115, abs=0.012)
    assert kids.loc[kids["single_adult"], "low_income"].mean() == pytest.approx(0.445, abs=0.05)
    assert 0.010 <= kids["seiho"].mean() <= 0.015
    assert kids["foreign"].mean() == pytest.approx(0.02, abs=0.006)
    assert kids["twin"].mean() == pytest.approx(0.02, abs=0.008), "twins: ~1% of deliveries"
    pupils = kids[kids["grade"].between(1, 9) & kids["public_school"]]
    assert pupils["recorded_enjo"].mean() == pytest.approx(0.14, abs=0.015)

    sh = read(beppu, "fy2025", "gakko/shusseki.csv")
    grade = sh["学年"].map({f"小{i}": i for i in range(1, 7)} | {f"中{i}": i + 6 for i in range(1, 4)})
    nonill = num(sh["前年度欠席日数"]) - num(sh["前年度うち病気欠席"])
    futoko = nonill >= 30
    assert futoko[grade.between(2, 6)].mean() == pytest.approx(0.021, abs=0.007)
    assert futoko[grade.between(8, 9)].mean() == pytest.approx(0.067, abs=0.018)
    rows = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "rows.csv", low_memory=False)
    uid = rows.loc[rows["source"] == "gakko/shusseki.csv", "uid"].to_numpy()
    enjo = pd.Series(uid).map(kids.set_index("uid")["recorded_enjo"]).eq(True).to_numpy()
    assert enjo[futoko.to_numpy()].mean() == pytest.approx(0.29, abs=0.07)
    assert enjo[futoko.to_numpy()].mean() > 1.8 * enjo[~futoko.to_numpy()].mean()

    kenshin = read(beppu, "fy2025", "kenko/kenshin.csv")
    assert (kenshin["受診状況"] == "未受診").mean() == pytest.approx(0.05, abs=0.012)
    yt = read(beppu, "fy2025", "kodomokatei/yotaikyo.csv")
    open_ = yt[(yt["終結日"] == "") & yt["登録区分"].isin(["要保護児童", "要支援児童"])]
    assert len(open_) / len(kids) == pytest.approx(0.014, abs=0.004)

    sv = read(beppu, "fy2025", "survey/seikatsu.csv")
    suid = rows.loc[rows["source"] == "survey/seikatsu.csv", "uid"].to_numpy()
    pov = pd.Series(suid).map(kids.set_index("uid")["low_income"]).eq(True).to_numpy()
    daily = (sv["Q1_朝食"] == "1").to_numpy()
    assert daily[pov].mean() == pytest.approx(0.69, abs=0.07)
    assert daily[~pov].mean() == pytest.approx(0.84, abs=0.04)


def test_same_people_a_year_older(beppu: Path) -> None:
    a = pd.read_csv(beppu / "synthetic_truth" / "fy2024" / "children.csv", dtype={"atena_no": str})
    b = pd.read_csv(beppu / "synthetic_truth" / "fy2025" / "children.csv", dtype={"atena_no": str})
    both = a.merge(b, on="uid", suffixes=("_24", "_25"))
    assert len(both) > 0.85 * len(a)
    assert (both["age_25"] - both["age_24"] == 1).all()
    assert (both["atena_no_24"] == both["atena_no_25"]).all()
    assert len(set(b["uid"]) - set(a["uid"])) > 0.04 * len(b), "births and newcomers"


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted((root / "raw").rglob("*.csv")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def test_deterministic(small_city: Path, tmp_path: Path) -> None:
    generate(tmp_path / "raw", tmp_path / "synthetic_truth", children=800, seed=11, years=[2024, 2025])
    assert _digest(tmp_path) == _digest(small_city)
    generate(tmp_path / "raw2" / "raw", tmp_path / "raw2" / "synthetic_truth", children=800, seed=12, years=[2024, 2025])
    assert _digest(tmp_path / "raw2") != _digest(small_city)


def test_birth_date_typos_are_real_dates() -> None:
    from mimamori_lib.synth.exports import _birth_typo

    for day in ("2016-02-29", "2016-12-31", "2015-01-31", "2014-03-31", "2016-02-28"):
        for r in [i / 100 for i in range(100)]:
            _birth_typo(pd.Timestamp(day), r)  # never raises: every typo is still a calendar date
