"""A params file that cannot be used: one Japanese line naming the file and the key."""

from __future__ import annotations

from ..errors import UserError


class ParamsError(UserError):
    """A params file that cannot be used (message in Japanese, naming the file and key)."""


_MESSAGES = {
    "missing": "必須の項目がありません", "extra_forbidden": "不明な項目です (綴りを確認してください)",
    "int_parsing": "整数ではありません", "int_type": "整数ではありません", "int_from_float": "整数ではありません",
    "float_parsing": "数値ではありません", "float_type": "数値ではありません",
    "bool_parsing": "true か false にしてください", "bool_type": "true か false にしてください",
    "string_type": "文字列ではありません", "list_type": "リストではありません", "dict_type": "「キー: 値」の形ではありません",
    "model_type": "「キー: 値」の形ではありません", "tuple_type": "リストではありません",
    "date_parsing": "日付 (YYYY-MM-DD) ではありません", "date_from_datetime_parsing": "日付 (YYYY-MM-DD) ではありません",
    "date_type": "日付 (YYYY-MM-DD) ではありません", "too_short": "要素が足りません", "too_long": "要素が多すぎます",
}


def error_message(err: dict) -> str:
    """A pydantic error in Japanese words."""
    t = err["type"]
    ctx = err.get("ctx") or {}
    if t == "literal_error":
        return f"次のいずれかにしてください: {ctx.get('expected', '')}"
    for key, word in (("ge", "以上"), ("gt", "より大きく"), ("le", "以下"), ("lt", "未満")):
        if t.startswith({"ge": "greater_than_equal", "gt": "greater_than", "le": "less_than_equal", "lt": "less_than"}[key]):
            bound = ctx.get(key)
            if bound is not None:
                return f"{bound:g} {word}にしてください" if isinstance(bound, int | float) else f"{bound} {word}にしてください"
    if t == "value_error":
        return str(ctx.get("error", err.get("msg", "")))
    return _MESSAGES.get(t, err.get("msg", t))
