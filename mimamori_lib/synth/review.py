"""Demo helper: answer the 名寄せ review queue from the synthetic truth, as staff would after checking each pair:
the queue they were given, with 判定 filled in, saved as ``<raw>/<fy>/linkage/review_queue.xlsx``. The next run
applies it. Real cities never run this."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from ..catalogue import datasets
from ..params import Params
from ..paths import fy_dir

CHANGING = ("抽出グループが変わる", "グループ内の順位が上がる")


def fill_review(p: Params, truth: Path, only_changing: bool = False) -> tuple[Path, int]:
    """一致 where the queued candidate is the record's true child, 不一致 otherwise; with ``only_changing`` only the
    pairs whose 影響 says the list could change (the rest stay blank, i.e. undecided). Returns the file and the
    number of pairs decided."""
    fy = p.fiscal_year
    queue = datasets.path(p, "review_queue")
    wb = load_workbook(queue)
    ws = wb["要確認"]
    header = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(header)}
    t = pd.read_csv(truth / fy_dir(fy) / "rows.csv", dtype=str, keep_default_na=False)
    true = dict(zip(zip(t["source"], t["row"].astype(int), strict=True), t["atena_no"], strict=True))
    n = 0
    for row in ws.iter_rows(min_row=2):
        source, r, atena = row[col["ファイル"]].value, row[col["行"]].value, row[col["宛名番号"]].value
        if source is None:
            continue
        if only_changing and ("影響" not in col or not str(row[col["影響"]].value or "").startswith(CHANGING)):
            continue
        n += 1
        row[col["判定"]].value = "一致" if true.get((source, int(r))) == str(atena) else "不一致"
        row[col["確認者"]].value = "デモ"
    f = datasets.saved_target(p, "review") / queue.name
    f.parent.mkdir(parents=True, exist_ok=True)
    wb.save(f)
    return f, n
