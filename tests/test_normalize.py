"""Normalisation of Japanese administrative values: the spec's cases and edge cases."""

from __future__ import annotations

import datetime as dt

import pytest

from mimamori_lib.text.normalize import (
    fold_variants,
    nfkc,
    normalize_address,
    normalize_atena,
    normalize_name,
    parse_date,
    parse_int,
    split_name,
    to_katakana,
)


@pytest.mark.parametrize(("raw", "iso"), [
    ("R7.4.1", "2025-04-01"), ("R07.04.01", "2025-04-01"), ("令和7年4月1日", "2025-04-01"), ("H30.12.5", "2018-12-05"),
    ("平成30年12月5日", "2018-12-05"), ("令和元年5月1日", "2019-05-01"), ("R1.5.1", "2019-05-01"), ("R元.5.1", "2019-05-01"),
    ("平成元年1月8日", "1989-01-08"), ("S64.1.7", "1989-01-07"), ("昭和55年1月1日", "1980-01-01"), ("T1.7.30", "1912-07-30"),
    ("M45.7.29", "1912-07-29"), ("Ｒ７．４．１", "2025-04-01"), ("r7.4.1", "2025-04-01"), ("2025/04/01", "2025-04-01"),
    ("2025-04-01", "2025-04-01"), ("20250401", "2025-04-01"), ("2025/4/1", "2025-04-01"), ("２０２５／０４／０１", "2025-04-01"),
    ("2025年4月1日", "2025-04-01"), (" R7.4.1 ", "2025-04-01"), ("2024/02/29", "2024-02-29"),
])
def test_parse_date(raw: str, iso: str) -> None:
    assert parse_date(raw) == dt.date.fromisoformat(iso)


@pytest.mark.parametrize("raw", ["R7.13.40", "2025/02/30", "不明", "0000/00/00", "H31.2.29", "20251341", "", None, "R7.4", "X7.4.1",
                                 "2023/02/29", "12345678"])
def test_parse_date_rejects(raw) -> None:
    assert parse_date(raw) is None


@pytest.mark.parametrize(("raw", "out"), [
    ("0001234567", "0001234567"), ("1234567", "0001234567"), ("１２３４５６７", "0001234567"), (" 1234567 ", "0001234567"),
    ("12A4", None), ("", None), ("12345678901", None), ("123-456", None), ("１２３ー", None), (None, None),
])
def test_normalize_atena(raw, out) -> None:
    assert normalize_atena(raw) == out


def test_kana() -> None:
    assert to_katakana("ﾍﾞｯﾌﾟ ﾀﾛｳ") == "ベップ タロウ"
    assert to_katakana("べっぷ　たろう") == "ベップ タロウ"
    assert to_katakana("ｻｲﾄｳ\u3000ﾊﾙﾄ") == "サイトウ ハルト"
    assert to_katakana("ヴァン") == "ヴァン" and to_katakana("ｳﾞｧﾝ") == "ヴァン"
    assert to_katakana("ゆーと") == "ユート"
    assert to_katakana("") == "" and to_katakana(None) == ""


@pytest.mark.parametrize(("raw", "out"), [
    ("髙橋", "高橋"), ("山﨑", "山崎"), ("渡邊", "渡辺"), ("渡邉", "渡辺"), ("齋藤", "斎藤"), ("齊藤", "斎藤"), ("澤田", "沢田"),
    ("濱田", "浜田"), ("德永", "徳永"), ("廣瀬", "広瀬"), ("中嶋", "中島"), ("冨田", "富田"), ("眞鍋", "真鍋"), ("櫻井", "桜井"),
])
def test_variant_kanji(raw: str, out: str) -> None:
    assert fold_variants(raw) == out
    assert nfkc(raw) != out or raw == out, "NFKC alone does not fold these"


def test_names_and_split() -> None:
    assert normalize_name("髙橋\u3000一郎") == "高橋 一郎"
    assert normalize_name("髙橋 一郎") == normalize_name("高橋　一郎")
    assert normalize_name("nguyen  van an") == "NGUYEN VAN AN"
    known = {"高橋", "高", "佐々木", "佐"}
    assert split_name("高橋 一郎", known) == ("高橋", "一郎")
    assert split_name("高橋一郎", known) == ("高橋", "一郎"), "longest known family name"
    assert split_name("佐々木蓮", known) == ("佐々木", "蓮")
    assert split_name("山田花子", known) == ("山田花子", ""), "unknown: whole name as family"
    assert split_name("高", known) == ("高", ""), "a family name alone leaves no given name"
    assert split_name("NGUYEN VAN AN", known) == ("NGUYEN", "VANAN")
    assert split_name("", known) == ("", "")


@pytest.mark.parametrize(("raw", "out"), [
    ("別府市野口原3丁目4番5号", "野口原3-4-5"), ("別府市野口原３－４－５", "野口原3-4-5"), ("野口原3-4-5", "野口原3-4-5"),
    ("別府市野口原三丁目4番5号", "野口原3-4-5"), ("大分県別府市野口原3丁目4番5号", "野口原3-4-5"),
    ("別府市石垣東十丁目1番2号", "石垣東10-1-2"), ("別府市鶴見1234番5号", "鶴見1234-5"), ("別府市鶴見1234番地", "鶴見1234"),
    ("別府市鶴見1234番地5", "鶴見1234-5"), ("別府市野口原3‐4‐5", "野口原3-4-5"),
    ("別府市石垣東3丁目4番5号 コーポ石垣201号室", "石垣東3-4-5 コーポ石垣201号室"),
    ("別府市石垣東３－４－５　コーポ石垣２０１号室", "石垣東3-4-5 コーポ石垣201号室"), ("", ""),
    # the same address written the other common ways (番地の, の, ノ, kanji numerals, 大字/字, ヶ/ケ/が, no space)
    ("別府市野口原3丁目4番地の5", "野口原3-4-5"), ("別府市野口原3丁目4の5", "野口原3-4-5"), ("野口原3丁目4ノ5", "野口原3-4-5"),
    ("別府市野口原三丁目四番五号", "野口原3-4-5"), ("野口原三丁目四番地五", "野口原3-4-5"), ("野口原３丁目４番５号", "野口原3-4-5"),
    ("別府市鶴見1234番地の5", "鶴見1234-5"), ("別府市鶴見18の1", "鶴見18-1"), ("鶴見千二百三十四番地五", "鶴見1234-5"),
    ("別府市大字大瀬123番地", "大瀬123"), ("大瀬123", "大瀬123"), ("別府市字大瀬123番地", "大瀬123"),
    ("東恋ヶ窪3丁目1番2号", "東恋ケ窪3-1-2"), ("東恋ケ窪3-1-2", "東恋ケ窪3-1-2"), ("東恋が窪三丁目一番二号", "東恋ケ窪3-1-2"),
    ("別府市石垣東3丁目4番5号コーポ石垣201号室", "石垣東3-4-5 コーポ石垣201号室"),
    ("別府市石垣東十二丁目4番5号", "石垣東12-4-5"), ("石垣東二十三丁目1番2号", "石垣東23-1-2"),
])
def test_address(raw: str, out: str) -> None:
    assert normalize_address(raw) == out


def test_parse_int() -> None:
    assert parse_int("１２") == 12 and parse_int("12") == 12 and parse_int("1,200") == 1200
    assert parse_int("") is None and parse_int("十") is None and parse_int("1.5") is None
