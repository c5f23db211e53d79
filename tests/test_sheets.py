"""The assessment sheets show, for every listed child, what the processed tables hold of it: its household, its
attendance in each year, its survey answers and its earlier extractions (checked against the tables, read here on
their own)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from bs4 import BeautifulSoup

from mimamori_lib.catalogue.registry import load_registry, role_source
from mimamori_lib.judgement.indicators import LINKED
from mimamori_lib.params import load_params

FY = 2025


def _processed(run: Path, fy: int, name: str) -> pd.DataFrame:
    return pd.read_parquet(run / "out" / "processed" / f"fy{fy}" / name)


def _sections(html: str) -> dict[str, list[list[str]]]:
    """Each numbered section's table rows (header row left out), by its heading."""
    soup = BeautifulSoup(html, "html.parser")
    out = {}
    for sec in soup.find_all("section"):
        h = sec.find("h2")
        if h is None:
            continue
        rows = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in sec.find_all("tr")]
        out[h.get_text(strip=True)] = [r for r in rows if r]
    return out


def _linked(run: Path, fy: int, path: str) -> pd.DataFrame:
    lk = _processed(run, fy, "links.parquet")
    return lk[(lk["source"] == path) & lk["status"].isin(LINKED)][["row", "person_id"]]


def test_each_sheet_shows_the_childs_household_attendance_survey_and_history(smoke_run: Path) -> None:
    p = load_params("params/smoke.yaml")
    reg = load_registry(p)
    att, sv = role_source(p, "attendance"), role_source(p, "survey")
    scores = _processed(smoke_run, FY, "scores.parquet")
    listed = scores[scores["group"] != ""]
    juki = _processed(smoke_run, FY, "juki.parquet")
    survey = _processed(smoke_run, FY, f"{sv}.parquet").merge(_linked(smoke_run, FY, reg[sv]["path"]), on="row")
    attended = {fy: set(_linked(smoke_run, fy, reg[att]["path"])["person_id"]) for fy in (2024, FY)}
    before = _processed(smoke_run, 2024, "scores.parquet")
    before = before[before["group"] != ""].set_index("person_id")
    questions = [c["name"] for c in reg[sv]["columns"].values() if c["name"].startswith("q")]
    folder = smoke_run / "out" / "reports" / "internal" / f"fy{FY}" / "assessment"
    seen = {"household": 0, "attendance": 0, "survey": 0, "history": 0}
    for r in listed.itertuples():
        s = _sections((folder / f"{r.extract_id}.html").read_text(encoding="utf-8"))
        household = juki.loc[juki["household_id"] == juki.set_index("person_id").loc[r.person_id, "household_id"]]
        assert len(s["2. 世帯 (同居者)"]) == len(household)
        seen["household"] += len(household) > 1
        years = [fy for fy in (2024, FY) if r.person_id in attended[fy]]
        assert len(s["5. 出欠の推移"]) == len(years), r.extract_id
        seen["attendance"] += len(years) == 2
        answered = survey[survey["person_id"] == r.person_id]
        assert len(s["6. 生活習慣等調査の回答"]) == (len(questions) if len(answered) else 0), r.extract_id
        seen["survey"] += len(answered) > 0
        shown = s["8. これまでの抽出と判断"]
        if r.person_id in before.index:
            assert len(shown) == 1 and shown[0][1].endswith(f"{before.loc[r.person_id, 'rank']}位"), r.extract_id
            seen["history"] += 1
        else:
            assert shown == [], r.extract_id
    assert all(seen.values()), f"the smoke city's sheets should show each section filled at least once: {seen}"
