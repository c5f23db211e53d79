"""Demo helper: fill in the support meeting's decisions (``shien/kettei.csv``) from the synthetic truth, the way
staff would after reading the assessment sheets. Real cities never run this: their staff fill in the list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..params import Params
from ..paths import fy_dir

CONTENT = {"貧困": "相談支援", "不登校": "学校連携", "養育困難": "見守り支援", "虐待の疑い": "児相通告",
           "発達・障害": "相談支援", "ヤングケアラー": "見守り支援"}


def fill_decisions(p: Params, truth: Path) -> Path:
    """Fill in the extraction list the run wrote (the meeting's columns) and save the workbook as staff do when they
    just press save: ``<raw>/<fy>/shien/kettei.xlsx``."""
    from openpyxl import load_workbook

    fy = p.fiscal_year
    rng = np.random.default_rng([p.synth.seed, fy, 11])
    wb = load_workbook(datasets.path(p, "extraction_xlsx"))
    ws = wb.active
    col = {c.value: c.column for c in ws[1]}
    kids = pd.read_csv(truth / fy_dir(fy) / "children.csv", dtype=str, keep_default_na=False).set_index("atena_no")
    meeting = p.reference_date + dt.timedelta(days=45)
    for r in range(2, ws.max_row + 1):
        atena = ws.cell(r, col["宛名番号"]).value
        if not ws.cell(r, col["抽出ID"]).value:
            continue
        t = kids.loc[str(atena)] if str(atena) in kids.index else None
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
        supported = ws.cell(r, col["支援の記録"]).value == "あり" or (t is not None and t["neglect_risk"] == "True"
                                                                  and rng.random() < 0.3)
        u = rng.random()
        if supported:
            need = "否" if u < 0.75 else "要"
        elif types:
            need = "要" if u < 0.7 else ("保留" if u < 0.85 else "否")
        else:
            need = "否" if u < 0.8 else "保留"
        started = meeting + dt.timedelta(days=int(rng.integers(7, 45)))
        values = {"既支援": "1" if supported else "0", "支援要否": need, "困難の類型": "・".join(types) if types else "その他",
                  "支援内容": CONTENT.get(types[0], "見守り支援") if need == "要" and types else None,
                  "支援開始日": dt.datetime.combine(started, dt.time()) if need == "要" and rng.random() < 0.85 else None,
                  "判断日": dt.datetime.combine(meeting, dt.time())}
        for c, v in values.items():
            ws.cell(r, col[c]).value = v
    target = datasets.saved_target(p, "decisions", ".xlsx")
    target.parent.mkdir(parents=True, exist_ok=True)
    for other in datasets.saved_files(p, "decisions"):  # the demo's own earlier save, in another format
        if other != target:
            other.unlink()
    wb.save(target)
    return target
