"""What the sheets show of earlier years: each processed year's attendance of the linked pupils, and earlier
extractions and meeting decisions, by pseudonym (the same across years)."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from ..arrays import isin
from ..catalogue import datasets
from ..catalogue.registry import load_registry, role_source
from ..judgement.indicators import LINKED
from ..judgement.scoring import GROUP_LABEL
from ..params import Params


@functools.lru_cache(maxsize=64)
def _parquet(path: str, mtime: float) -> pd.DataFrame:
    """A processed table read once per sheet run (keyed by file and modification time)."""
    return datasets.read_parquet(path)


def read_cached(f: Path) -> pd.DataFrame:
    return _parquet(str(f), f.stat().st_mtime)


def fmt_date(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d")


def linked_rows(links: pd.DataFrame | None, path: str) -> pd.DataFrame:
    """(row, person_id) of a source's records linked to a child (automatic or staff-confirmed)."""
    if links is None:
        return pd.DataFrame(columns=["row", "person_id"])
    return links[(links["source"] == path).to_numpy() & isin(links["status"], LINKED)][["row", "person_id"]]


ATTENDANCE = ("grade", "absence_prev", "absence_prev_illness", "absence_cur", "late_cur", "early_leave_cur")


def attendance_by_year(p: Params) -> dict[str, pd.DataFrame]:
    """Each processed year up to this one: linked pupils' attendance, indexed by the child's pseudonym (the same
    across years)."""
    out = {}
    att = role_source(p, "attendance")
    path = load_registry(p)[att]["path"]
    for fy in datasets.years_with(p, "links", until=p.fiscal_year):
        table = datasets.path(p, f"table:{att}", fy)
        if not table.exists():
            continue
        lk = linked_rows(read_cached(datasets.path(p, "links", fy)), path)
        t = read_cached(table)[["row", *ATTENDANCE]].merge(lk, on="row")
        out[str(fy)] = t.drop_duplicates("person_id").set_index("person_id")
    return out


def attendance_of(by_year: dict[str, dict[str, dict]], person_id: str) -> list[dict]:
    """Attendance of the child in every processed year up to this one (``by_year``: each year's rows by pseudonym)."""
    out = []
    for fy, rows in by_year.items():
        r = rows.get(person_id)
        if r is None:
            continue
        out.append({"fy": fy, **{k: ("" if pd.isna(r[k]) else (r[k] if k == "grade" else int(r[k]))) for k in ATTENDANCE}})
    return out


def answers_by_child(survey: pd.DataFrame | None, spec: dict) -> dict[str, list[dict]]:
    """Each surveyed child's answers as the sheet shows them (question, answer in words), by pseudonym: the child's
    first row of the survey."""
    if survey is None:
        return {}
    questions = [(h.split("_", 1)[1], c["name"], c.get("labels", {})) for h, c in spec["columns"].items()
                 if c["name"].startswith("q") and c["name"] in survey.columns]
    out: dict[str, list[dict]] = {}
    for r in survey.drop_duplicates("person_id").to_dict("records"):
        out[r["person_id"]] = [{"question": q, "answer": "無回答" if pd.isna(r[name]) else labels.get(str(r[name]), str(r[name]))}
                               for q, name, labels in questions]
    return out


def history_by_year(p: Params) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Earlier years' extraction (extracted children only) and meeting decisions, indexed by pseudonym."""
    out = {}
    for fy in datasets.years_with(p, "scores", before=p.fiscal_year):
        s = read_cached(datasets.path(p, "scores", fy))
        s = s[(s["group"] != "").to_numpy()].drop_duplicates("person_id").set_index("person_id")
        f = datasets.path(p, "decisions", fy)
        dec = read_cached(f) if f.exists() else pd.DataFrame(columns=["person_id"])
        out[str(fy)] = (s, dec.drop_duplicates("person_id").set_index("person_id"))
    return out


def history_of(by_year: dict[str, tuple[dict[str, dict], dict[str, dict]]], person_id: str) -> list[dict]:
    """The child's earlier extractions and meeting decisions (``by_year``: each year's rows by pseudonym)."""
    out = []
    for fy, (extracted, decided) in by_year.items():
        r = extracted.get(person_id)
        if r is None:
            continue
        h = {"fy": fy, "extracted": f"{GROUP_LABEL[r['group']]} {r['rank']}位", "need": "", "types": "", "content": "", "date": ""}
        d = decided.get(person_id)
        if d is not None:
            h.update(need=d.get("support_needed") or "", types=d.get("difficulty_types") or "",
                     content=d.get("support_content") or "", date=fmt_date(d.get("decided_on")))
        out.append(h)
    return out
