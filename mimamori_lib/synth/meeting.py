"""Demo helper: fill in the support meeting's decisions (``shien/kettei.csv``) from the synthetic truth, the way
staff would after reading the assessment sheets. Real cities never run this: their staff fill in the list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .. import datasets
from ..params import Params
from ..paths import fy_dir

CONTENT = {"貧困": "相談支援", "不登校": "学校連携", "養育困難": "見守り支援", "虐待の疑い": "児相通告",
           "発達・障害": "相談支援", "ヤングケアラー": "見守り支援"}


def fill_decisions(p: Params, truth: Path) -> Path:
    """Write ``<raw>/<fy>/shien/kettei.csv``: the extraction list with the meeting's columns filled in."""
    fy = p.fiscal_year
    rng = np.random.default_rng([p.synth.seed, fy, 11])
    lst = pd.read_csv(datasets.path(p, "extraction_csv"), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    kids = pd.read_csv(truth / fy_dir(fy) / "children.csv", dtype=str, keep_default_na=False).set_index("atena_no")
    meeting = p.reference_date + dt.timedelta(days=45)
    for i, r in lst.iterrows():
        t = kids.loc[r["宛名番号"]] if r["宛名番号"] in kids.index else None
        types = []
        if t is not None:
            if t["low_income"] == "True":
                types.append("貧困")
            if t["school_refusal"] == "True":
                types.append("不登校")
            if t["neglect_risk"] == "True":
                types.append("虐待の疑い" if rng.random() < 0.25 else "養育困難")
            if t["developmental_disability"] == "True":
                types.append("発達・障害")
            if t["parental_disability"] == "True" and t["single_parent"] == "True":
                types.append("ヤングケアラー")
        supported = r["支援の記録"] == "あり" or (t is not None and t["neglect_risk"] == "True" and rng.random() < 0.3)
        u = rng.random()
        if supported:
            need = "否" if u < 0.75 else "要"
        elif types:
            need = "要" if u < 0.7 else ("保留" if u < 0.85 else "否")
        else:
            need = "否" if u < 0.8 else "保留"
        lst.at[i, "既支援"] = "1" if supported else "0"
        lst.at[i, "支援要否"] = need
        lst.at[i, "困難の類型"] = "・".join(types) if types else "その他"
        lst.at[i, "支援内容"] = CONTENT.get(types[0], "見守り支援") if need == "要" and types else ""
        started = meeting + dt.timedelta(days=int(rng.integers(7, 45)))
        lst.at[i, "支援開始日"] = started.strftime("%Y/%m/%d") if need == "要" and rng.random() < 0.85 else ""
        lst.at[i, "判断日"] = meeting.strftime("%Y/%m/%d")
    target = datasets.saved_target(p, "decisions")
    target.parent.mkdir(parents=True, exist_ok=True)
    lst.to_csv(target, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return target
