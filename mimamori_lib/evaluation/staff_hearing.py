"""職員ヒアリング: Likert answers by year and 所属区分, a test between years, and the free comments coded by the
params codebook (quotes only in the internal report)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import disclosure
from ..catalogue import datasets
from ..catalogue.registry import role_source
from ..catalogue.tables import read_table
from ..params import Params

LIKERT = {"q1_shared_view": "対象者認識の一致", "q2_understanding": "こども理解の深まり", "q3_data_useful": "データの有用性",
          "q4_workload": "業務負担 (5=重い)"}


def hearing(ps: list[Params]) -> pd.DataFrame:
    """The staff hearing of every year (one row per respondent)."""
    frames = []
    for p in ps:
        t = read_table(p, role_source(p, "hearing"))
        if t is not None:
            frames.append(t.assign(fy=p.fiscal_year))
    if not frames:
        return pd.DataFrame()
    h = pd.concat(frames, ignore_index=True)
    for c in LIKERT:
        h[c] = pd.to_numeric(h[c], errors="coerce")
    return h


def likert_summary(h: pd.DataFrame) -> pd.DataFrame:
    """Mean (and n) of each question by year and 所属区分 — staff opinions, not counts of children."""
    rows = []
    for (fy, aff), g in h.groupby(["fy", "affiliation"]):
        row = {"年度": f"FY{fy}", "所属区分": aff, "回答者数": len(g)}
        row.update({label: round(float(g[c].mean()), 2) for c, label in LIKERT.items()})
        rows.append(row)
    return disclosure.mark_safe(pd.DataFrame(rows), "averages of staff answers")


def likert_tests(h: pd.DataFrame) -> pd.DataFrame:
    """Mann–Whitney U test of each question between the first and last year (all staff)."""
    from scipy.stats import mannwhitneyu

    years = sorted(h["fy"].unique())
    if len(years) < 2:
        return disclosure.mark_safe(pd.DataFrame(), "no comparison")
    a, b = h[h["fy"] == years[0]], h[h["fy"] == years[-1]]
    rows = []
    for c, label in LIKERT.items():
        x, y = a[c].dropna(), b[c].dropna()
        stat, pv = mannwhitneyu(y, x, alternative="two-sided")
        rows.append({"設問": label, f"FY{years[0]} 平均": round(float(x.mean()), 2), f"FY{years[-1]} 平均": round(float(y.mean()), 2),
                     "p値 (Mann–Whitney)": round(float(pv), 3)})
    return disclosure.mark_safe(pd.DataFrame(rows), "test statistics of staff answers")


def code_comments(h: pd.DataFrame, codebook: dict[str, list[str]]) -> pd.DataFrame:
    """Each free comment coded into themes by keyword (a comment may have several themes)."""
    out = h[["fy", "affiliation", "comment"]].copy()
    out["comment"] = out["comment"].fillna("")
    for theme, words in codebook.items():
        out[theme] = out["comment"].map(lambda s, words=words: any(w in s for w in words)).astype(int)
    return out


def theme_counts(coded: pd.DataFrame, codebook: dict, threshold: int, protection: int) -> pd.DataFrame:
    """Comments per theme and year (staff, disclosure-controlled like every count)."""
    t = coded.groupby("fy")[list(codebook)].sum().T
    t.columns = [f"FY{c}" for c in t.columns]
    return disclosure.protect(t, threshold=threshold, totals=False, protection=protection, name="themes")


def write_internal_comments(p: Params, coded: pd.DataFrame) -> Path:
    """Quotes of the free comments, with their themes: internal report only."""
    return datasets.write(p, "hearing_comments", coded[coded["comment"] != ""])


