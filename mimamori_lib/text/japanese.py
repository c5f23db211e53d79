"""Facts about written Japanese shared by the generator and the pipeline: eras, variant kanji, numerals."""

from __future__ import annotations

import datetime as dt

# (kanji, letter, first day). Each era's year 1 (元年) is the year of its first day.
ERAS: tuple[tuple[str, str, dt.date], ...] = (
    ("令和", "R", dt.date(2019, 5, 1)),
    ("平成", "H", dt.date(1989, 1, 8)),
    ("昭和", "S", dt.date(1926, 12, 25)),
    ("大正", "T", dt.date(1912, 7, 30)),
    ("明治", "M", dt.date(1868, 10, 23)),
)

# Old or variant kanji (異体字・旧字体) → the common form. NFKC does not fold these.
VARIANT_KANJI: dict[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斎", "斉": "斎",
    "澤": "沢", "濱": "浜", "德": "徳", "廣": "広", "嶋": "島", "嶌": "島", "冨": "富", "眞": "真",
    "櫻": "桜", "國": "国", "榮": "栄", "惠": "恵", "團": "団", "藏": "蔵", "龍": "竜", "條": "条",
    "壽": "寿", "與": "与", "實": "実", "禮": "礼", "靜": "静", "彌": "弥", "黑": "黒", "淺": "浅",
    "瀨": "瀬", "槇": "槙", "桒": "桑", "籠": "篭", "舘": "館", "峯": "峰", "嶺": "峰", "晝": "昼",
    "縣": "県", "會": "会", "勳": "勲", "曻": "昇", "莊": "荘", "乘": "乗", "拜": "拝", "萬": "万",
}

KANJI_DIGITS: dict[str, int] = {
    "〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}


def era_of(day: dt.date) -> tuple[str, str, int]:
    """The era kanji, letter and era year of a date (``2019-05-01`` → ``("令和", "R", 1)``)."""
    for kanji, letter, start in ERAS:
        if day >= start:
            return kanji, letter, day.year - start.year + 1
    raise ValueError(f"date before 明治: {day}")


def kanji_number(n: int) -> str:
    """A small number (1–99) in kanji numerals as used in 丁目: 3 → 三, 10 → 十, 12 → 十二."""
    digits = "〇一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + ("" if ones == 0 else digits[ones])


def wareki_year(year: int, month: int = 4, day: int = 1) -> str:
    """The era year of a day as a city writes it (令和7年, 令和元年)."""
    d = dt.date(year, month, day)
    for kanji, _, start in ERAS:
        if d >= start:
            n = d.year - start.year + 1
            return f"{kanji}{'元' if n == 1 else n}年"
    return f"{year}年"


def wareki_fy(fy: int) -> str:
    """A fiscal year as a city writes it: 2025 → 令和7年度; a year in which the era changed takes the new era's
    first year (2019 → 令和元年度)."""
    for kanji, _, start in ERAS:
        n = int(fy) - start.year + 1
        if start <= dt.date(int(fy) + 1, 3, 31) and n >= 1:
            return f"{kanji}{'元' if n == 1 else n}年度"
    return f"{fy}年度"


def wareki_date(d: dt.date) -> str:
    """A day as a city writes it: 令和7年12月6日."""
    return f"{wareki_year(d.year, d.month, d.day)}{d.month}月{d.day}日"
