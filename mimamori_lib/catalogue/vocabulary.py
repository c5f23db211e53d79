"""The vocabulary of the papers staff fill in and of the tables every stage shares, each word defined once: the
meeting's decisions (支援要否), 困難の類型, 支援内容, the columns of the filled list, how a yes/no is written, and the
columns of a quarantine of rows read back from a saved file."""

from __future__ import annotations

from ..params.sections import NEEDS

# 支援要否: the meeting's decision on a listed child
NEED_YES, NEED_NO, NEED_HOLD = NEEDS
NEED_LABEL = {NEED_YES: "支援要", NEED_NO: "否", NEED_HOLD: "保留"}

# 困難の類型 (several per child, written with TYPE_SEPARATOR between them) and 支援内容
DIFFICULTY_TYPES = ("貧困", "不登校", "虐待の疑い", "養育困難", "ヤングケアラー", "発達・障害", "その他")
TYPE_SEPARATOR = "・"
SUPPORT_CONTENT = ("相談支援", "見守り支援", "学校連携", "児相通告", "その他")

# the meeting's columns of the extraction list (filled in at the meeting, read back by 35_meeting)
DECISION_COLUMNS = ["既支援", "支援要否", "困難の類型", "支援内容", "支援開始日", "判断日"]

# a yes/no as people write it (既支援, ...)
FLAG_TRUE = frozenset({"1", "有", "○", "あり", "true"})
FLAG_FALSE = frozenset({"0", "無", "", "なし", "false"})

# rows of a file staff saved that could not be used: where, which column, the value and the reason
QUARANTINE_COLUMNS = ["source", "sheet", "row", "column", "value", "reason"]

# a household member of this age or older on the reference date is an adult (parents, guardians)
ADULT_AGE = 18


def split_types(text: str) -> list[str] | None:
    """``貧困・発達・障害`` → [貧困, 発達・障害]: the separator ・ also occurs inside 発達・障害, so known types are matched
    from the left, longest first. ``None`` if something unknown remains."""
    rest = text.strip()
    out: list[str] = []
    known = sorted(DIFFICULTY_TYPES, key=len, reverse=True)
    while rest:
        hit = next((t for t in known if rest.startswith(t)), None)
        if hit is None:
            return None
        out.append(hit)
        rest = rest[len(hit):].lstrip("・ ")
    return out
