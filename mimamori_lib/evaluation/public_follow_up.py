"""The public follow-up: what the next year's exports showed of the children the meeting judged 支援要, beside the
listed children it judged 否 — counts of children, so published as part of the funnel's linear system.

The group sizes are the funnel's own cells (支援要, and 否 = 会議で判断 − 支援要 − 保留), so secondary suppression and
the audit see both tables together. Relations written in: still in the city ≤ judged; compared ≤ still in the city;
fewer + unchanged + more = compared; each theme or status ≤ still in the city; and the implied counts (moved away or
aged out = judged − still in the city; not compared = in the city − compared) are counts of children too. A median
change is shown only where its count is shown and not small. This is what was seen, never the effect of support.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import disclosure
from ..cases import read_follow_up, summary_counts
from ..cases.followup import rows
from ..disclosure import System
from ..params import Params, year_params

GROUPS = {"支援要": "need_support", "否": "judged_no"}


def follow_ups(p: Params, years: list[int]) -> list[dict]:
    """Each year's follow-up counts (of the previous year's judged children) for the years of the report."""
    out = []
    for fy in years:
        q = year_params(p, fy)
        fu = read_follow_up(q)
        if fu is not None and len(fu):
            out.append({"fy": int(fu["fy_judged"].iloc[0]), "seen": fy, "counts": summary_counts(fu, q)})
    return out


def _key(fy: int, g: str, row: str) -> tuple:
    return (f"FY{fy}", GROUPS[g]) if row == "n" else (f"FY{fy}", f"fu:{g}:{row}")


def follow_up_system(fus: list[dict], p: Params, threshold: int) -> System:
    """The follow-up counts as a system whose group sizes are the funnel's cells."""
    values, eqs, ineqs, cells = {}, [], [], set()
    names = [k for k, _ in rows(p)]
    for f in fus:
        for g in GROUPS:
            c = f["counts"][g]

            def k(row: str, fy=f["fy"], g=g) -> tuple:
                return _key(fy, g, row)

            for r in names:
                values[k(r)] = int(c[r])
                cells.add(k(r))
            eqs.append({k("fewer"): 1, k("same"): 1, k("more"): 1, k("compared"): -1})
            ineqs += [{k("in_city"): 1, k("n"): -1}, {k("compared"): 1, k("in_city"): -1}]
            ineqs += [{k(r): 1, k("in_city"): -1} for r in names if r.startswith(("theme:", "status:"))]
            for name, (big, small) in {"left": ("n", "in_city"), "not_compared": ("in_city", "compared")}.items():
                values[k(name)] = values[k(big)] - values[k(small)]
                eqs.append({k(name): 1, k(big): -1, k(small): 1})
    sensitive = {key for key, v in values.items() if 1 <= v < threshold}
    return System(values=values, published=cells - sensitive, equalities=eqs, inequalities=ineqs,
                  sensitive=sensitive, cells=cells)


def follow_up_table(fus: list[dict], p: Params, system: System) -> pd.DataFrame:
    """The disclosure-controlled table (rows × year and group), with the median change where it may be shown."""
    threshold = p.disclosure.threshold
    cols = {}
    for f in fus:
        for g in GROUPS:
            c = f["counts"][g]
            vals = [str(c[r]) if _key(f["fy"], g, r) in system.published else disclosure.MASK for r, _ in rows(p)]
            med = c["median_change"]
            shown = _key(f["fy"], g, "compared") in system.published and c["compared"] >= threshold
            vals.append(f"{med:+.1f} 日" if shown and not np.isnan(med) else ("—" if not c["compared"] else "非公表"))
            cols[f"FY{f['fy']} {g}"] = vals
    t = pd.DataFrame(cols, index=[label for _, label in rows(p)] + ["欠席日数の変化 (中央値)"])
    t.attrs.update({"disclosure_protected": True, "threshold": threshold, "protection": p.disclosure.protection,
                    "system": system})
    return t


def follow_up_lines(fus: list[dict], p: Params) -> list[str]:
    """What the table is and is not."""
    if not fus:
        return ["翌年度のデータがまだないため、会議で判断したこどものその後はまだ示せません。"]
    f = fus[-1]
    return [f"FY{f['fy']} に支援担当者会議で判断したこどもについて、FY{f['seen']} の各課のデータに見えた状況を、支援要と判断した"
            "こどもと否と判断したこども (いずれもリストに載ったこども) に分けて示します。欠席日数は、両年度の 4 月から基準日までの"
            "同じ期間で比べています。",
            "**読み方**: これは観察された変化であり、支援の効果ではありません。1 年に数十人と少なく、否と判断したこどもは判断以外の"
            "点でも支援要のこどもと異なるため、両者の差を支援の効果と読むことはできません。人数の少ない欄は ＊ で伏せています。"]
