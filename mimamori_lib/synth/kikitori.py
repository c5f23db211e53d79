"""Demo helper: the schools' answers to the hearing forms, made up from the synthetic truth the way a class teacher
would describe a pupil, saved as each school returns its form: ``<raw>/<fy>/kikitori/<学校名>.xlsx``. Real cities never
run this: their schools fill in the forms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalogue import datasets
from ..params import Params
from ..paths import fy_dir

MANNER = {"school_refusal": "欠席が続いている。登校した日も保健室で過ごすことが多い。",
          "low_income": "持ち物がそろわないことがある。給食はよく食べる。",
          "neglect_risk": "衣服の汚れが目立つ日がある。朝食をとらずに登校しているようだ。",
          "developmental_disability": "集団の活動が苦手で、個別の声かけが必要な場面がある。"}
HOME = {"school_refusal": "朝、保護者と連絡がつかない日がある。",
        "low_income": "集金の遅れが続いている。保護者は仕事で忙しいようだ。",
        "neglect_risk": "保護者との面談の予定が合わないことが続いている。",
        "developmental_disability": "保護者は相談先を探している様子。"}
SUPPORT = {"school_refusal": "スクールソーシャルワーカーと家庭訪問", "low_income": "就学援助などの制度の案内",
           "neglect_risk": "こども家庭センターとの情報共有", "developmental_disability": "特別支援教育コーディネーターとの相談"}


def fill_kikitori(p: Params, truth: Path) -> list[Path]:
    """Fill every hearing form the run wrote for the year and save each as its school returns it."""
    from openpyxl import load_workbook

    forms = datasets.path(p, "hearing_forms")
    if not forms.is_dir():
        return []
    ids = pd.read_csv(datasets.path(p, "extraction_csv"), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    atena = dict(zip(ids["抽出ID"], ids["宛名番号"], strict=True))
    kids = pd.read_csv(truth / fy_dir(p.fiscal_year) / "children.csv", dtype=str, keep_default_na=False).set_index("atena_no")
    rng = np.random.default_rng([p.synth.seed, p.fiscal_year, 17])
    answered = p.reference_date + dt.timedelta(days=30)
    out = []
    target = datasets.saved_target(p, "hearing")
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(forms.glob("*.xlsx")):
        wb = load_workbook(f)
        ws = wb.active
        col = {c.value: c.column for c in ws[1]}
        for r in range(2, ws.max_row + 1):
            a = atena.get(ws.cell(r, col["抽出ID"]).value)
            if a is None or rng.random() < 0.1:  # a few pupils the school does not answer about
                continue
            t = kids.loc[a] if a in kids.index else None
            flags = [k for k in MANNER if t is not None and t.get(k) == "True"]
            ws.cell(r, col["学校での様子"]).value = "".join(MANNER[k] for k in flags) or "特に気になる様子はない。"
            ws.cell(r, col["家庭で気になること"]).value = "".join(HOME[k] for k in flags) or "特にない。"
            ws.cell(r, col["必要と思われる支援"]).value = "、".join(SUPPORT[k] for k in flags) or "見守り"
            ws.cell(r, col["回答者"]).value = "担任" if rng.random() < 0.7 else "教頭"
            ws.cell(r, col["回答日"]).value = dt.datetime.combine(answered, dt.time())
        wb.save(target / f.name)
        out.append(target / f.name)
    return out
