"""What each recipient of a paper may see (こどもデータ連携ガイドライン, こども家庭庁 2025: 必要最小限の情報共有).

Recipients are data (params ``sharing.recipients``): each with the sources or items of the catalogue it may see. A
school sees its own pupils' school-side items (attendance, 保健室, 給食費, 就学援助, 特別支援) and nothing from welfare,
health or consultation records; the こども家庭センター sees the assessment. Every paper that leaves the analysis — the
school hearing form, the hand-over after the meeting — is filtered here and says on it what it leaves out.
"""

from __future__ import annotations

import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry, role_source
from ..catalogue.tables import read_identity, read_people
from ..errors import UserError
from ..judgement.indicators import LINKED
from ..params import Params, Recipient
from ..text.gaiji import displayable


def recipient(p: Params, rid: str) -> Recipient:
    return p.sharing.recipients[rid]


def allowed_items(p: Params, rid: str, catalogue: dict) -> list[str]:
    """The catalogue's items a recipient may see, in the catalogue's order."""
    r = recipient(p, rid)
    if r.all_items:
        return list(catalogue)
    registry = load_registry(p)
    bad = [s for s in r.sources if s not in registry] + [i for i in r.items if i not in catalogue]
    if bad:
        raise UserError(f"params の sharing.recipients.{rid} に登録簿・項目一覧にない id があります: {'・'.join(bad)}")
    return [i for i, it in catalogue.items() if it.get("source") in r.sources or i in r.items]


def left_out(p: Params, rid: str, catalogue: dict) -> str:
    """What a recipient's papers say about what they leave out (a count, never the items' names)."""
    r = recipient(p, rid)
    n = len(catalogue) - len(allowed_items(p, rid, catalogue))
    return r.note + (f" (記載していない項目: {n} 項目)" if n else "")


def matched_words(ev: pd.DataFrame, items: list[str], catalogue: dict, person_ids=None) -> pd.Series:
    """Per child (person_id; only those of ``person_ids`` when given), the matched items among ``items`` in words:
    ``B03 就学援助…、N07 保健室来室…``."""
    keep = (ev["kind"] == "match").to_numpy() & isin(ev["item"], items)
    if person_ids is not None:
        keep &= isin(ev["person_id"], list(person_ids))
    m = ev[keep].drop_duplicates(["item", "person_id"])
    if m.empty:
        return pd.Series(dtype="object")
    words = m["item"] + " " + m["item"].map(lambda i: catalogue[i]["label"])
    return words.groupby(m.sort_values("item")["person_id"]).agg("、".join)


def pupils(p: Params, person_ids) -> pd.DataFrame:
    """The school, short school name, grade and class of each listed child linked to the attendance file, indexed by
    person_id (children not at a city school are absent)."""
    links = datasets.read(p, "links")
    cols = ["school", "school_short", "grade", "class_no"]
    if links is None:
        return pd.DataFrame(columns=cols)
    path = load_registry(p)[role_source(p, "attendance")]["path"]
    lk = links[(links["source"] == path).to_numpy() & isin(links["status"], LINKED) & isin(links["person_id"], list(person_ids))]
    rec = read_identity(p, columns=["row", "school", "grade", "class_no"], sources=[path],
                        filters=[("row", "in", sorted({int(x) for x in lk["row"]}) or [-1])])
    m = lk[["row", "person_id"]].merge(rec, on="row").drop_duplicates("person_id").set_index("person_id")
    m["school_short"] = m["school"].str.replace(f"{p.city.name}立", "", regex=False)
    return m[cols]


def names(p: Params, person_ids) -> pd.DataFrame:
    """氏名 and ふりがな of children from the registry (restricted identity table), as papers show them."""
    reg = read_people(p, columns=["person_id", "name", "name_kana"], person_ids=person_ids).set_index("person_id")
    return reg.apply(lambda c: c.map(displayable))


def file_name(name: str) -> str:
    """A school or recipient name as a file name (no path separators)."""
    return "".join("_" if ch in '/\\:*?"<>|' else ch for ch in str(name)).strip() or "不明"
