"""The de-identification check of a case record's free text before it may appear in the public report.

A case is checked against its own child's and household's identity (names, readings, school, address, 宛名番号)
and against patterns that identify anyone (exact dates, exact ages and school grades, names of schools and
nurseries, long numbers). Any finding leaves the case out of the public report; the internal report says which
column and what kind of finding (never the public one). Text is compared after NFKC, without spaces, and
readings in katakana (hiragana written by staff is found too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.normalize import fold_variants, nfkc, to_katakana

NARRATIVE = ["判定前の状況", "確認できた状況", "状況の変化", "効果・示唆"]
_KANJI_NUM = "〇一二三四五六七八九十"
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("日付 (日まで)", re.compile(r"\d{2,4}\s*[年/\-.]\s*\d{1,2}\s*[月/\-.]\s*\d{1,2}(?!\d)|\d{1,2}\s*月\s*\d{1,2}\s*日"
                            r"|(令和|平成|R|H)\s*(元|\d{1,2})\s*[年.]\s*\d{1,2}\s*[月.]\s*\d{1,2}"
                            rf"|[{_KANJI_NUM}]+月[{_KANJI_NUM}]+日")),
    ("年齢", re.compile(rf"(?<![〜~～\-\d{_KANJI_NUM}])[\d{_KANJI_NUM}]+\s*(歳|才|か月児|ヶ月児|カ月児)")),  # not a band (6〜11歳)
    ("学年", re.compile(rf"(小学|中学|高校)?\s*[\d{_KANJI_NUM}]\s*年生|(小学校?|中学校?|高校)\s*[\d{_KANJI_NUM}]\s*年"
                      rf"|(?<![a-zA-Z])[小中高]\s*[1-6１-６{_KANJI_NUM[1:7]}](?![\d{_KANJI_NUM}])")),
    ("学校・園の名前", re.compile(r"[^\s、。,.()（）「」]{1,12}(小学校|中学校|高等学校|高校|義務教育学校|支援学校|保育園|保育所"
                             r"|幼稚園|こども園)")),
    ("番号", re.compile(r"\d{6,}")),
)


@dataclass
class Identity:
    """What identifies one case's child and household (from the restricted identity table)."""

    names: set[str] = field(default_factory=set)       # full names and long-enough name parts (kanji)
    readings: set[str] = field(default_factory=set)    # readings in katakana
    schools: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)      # addresses and their town names
    numbers: set[str] = field(default_factory=set)     # 宛名番号, 世帯番号


@dataclass
class Finding:
    column: str
    kind: str


def squash(s: str) -> str:
    """NFKC without spaces, variant kanji folded (the form both sides are compared in)."""
    return re.sub(r"\s+", "", fold_variants(nfkc(s or "")))


def town(address: str) -> str:
    """The town part of an address (``春木1050-30`` → ``春木``; ``南町3丁目1-2`` → ``南町``)."""
    m = re.match(r"[^\d０-９\-−ー‐丁]+", squash(address))
    t = m.group(0) if m else ""
    return re.sub(r"[一二三四五六七八九十]+$", "", t)


def identity_terms(people: list[dict], schools: list[str], name_min: int = 2, kana_min: int = 3) -> Identity:
    """The terms to look for, from the identity rows of the child and the household members (dicts with name,
    family_name, given_name, name_kana, family_kana, given_kana, address, atena_no, setai_no) and the child's
    schools."""
    ident = Identity()
    for r in people:
        full = squash(r.get("name") or "")
        if full:
            ident.names.add(full)
        for part in (r.get("family_name"), r.get("given_name")):
            part = squash(part or "")
            if len(part) >= name_min:
                ident.names.add(part)
        kana = to_katakana(squash(r.get("name_kana") or ""))
        if kana:
            ident.readings.add(kana)
        for part in (r.get("family_kana"), r.get("given_kana")):
            part = to_katakana(squash(part or ""))
            if len(part) >= kana_min:
                ident.readings.add(part)
        addr = squash(r.get("address") or "")
        if addr:
            ident.places.add(addr)
            t = town(addr)
            if len(t) >= 2:
                ident.places.add(t)
        for n in (r.get("atena_no"), r.get("setai_no")):
            n = squash(n or "")
            if n:
                ident.numbers.update({n, n.lstrip("0")} - {""})
    for s in schools:
        s = squash(s or "")
        if s:
            ident.schools.add(s)
            short = re.sub(r"^.*?[市町村]立", "", s)
            ident.schools.add(short)
            ident.schools.add(re.sub(r"(小学校|中学校|高等学校|義務教育学校)$", "", short) or short)
    ident.schools = {s for s in ident.schools if len(s) >= 2}
    return ident


def check_text(text: str, ident: Identity) -> list[str]:
    """The kinds of identifying content found in one text (empty: none)."""
    s = squash(text)
    if not s:
        return []
    kana = to_katakana(s)
    found = []
    if any(n in s for n in ident.names):
        found.append("氏名")
    if any(r in kana for r in ident.readings):
        found.append("氏名の読み")
    if any(x in s for x in ident.schools):
        found.append("学校名")
    if any(x in s for x in ident.places):
        found.append("住所")
    if any(re.search(rf"(?<!\d){re.escape(n)}(?!\d)", s) for n in ident.numbers):
        found.append("宛名番号・世帯番号")
    found += [kind for kind, rx in PATTERNS if rx.search(s) and kind not in found]
    return found


def check_case(texts: dict[str, str], ident: Identity) -> list[Finding]:
    """Every finding in a case's narrative columns."""
    return [Finding(col, kind) for col in NARRATIVE for kind in check_text(texts.get(col, ""), ident)]


def describe(findings: list[Finding]) -> str:
    """``判定前の状況: 氏名・日付 (日まで)`` — for the internal report (kinds only, never the text found)."""
    by: dict[str, list[str]] = {}
    for f in findings:
        by.setdefault(f.column, []).append(f.kind)
    return "; ".join(f"{c}: {'・'.join(k)}" for c, k in by.items())
