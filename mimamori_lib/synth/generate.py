"""`mimamori synth`: generate the synthetic city's exports for each fiscal year, and its ground truth."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..paths import fy_dir
from .city import build_city, members_on
from .exports import STYLES, render, school_master, write_csv
from .marker import write_marker
from .records import build_timeline, planted_effects, year_records

log = logging.getLogger(__name__)


def generate(out: Path, truth: Path, children: int = 16696, seed: int = 7, years: list[int] | None = None) -> dict:
    """Write ``out/<fy>/<dept>/<file>.csv`` for every year, and the truth under ``truth/<fy>/``.

    Returns a summary (files, rows, seconds). The same arguments give byte-identical files.
    """
    years = sorted(years or [2024, 2025])
    t0 = time.perf_counter()
    city = build_city(children, seed, years)
    tl = build_timeline(city)
    log.info("人口と出来事を生成しました (%.1f 秒)", time.perf_counter() - t0)
    summary: dict = {"seed": seed, "children": children, "years": years, "files": {}}
    for fy in years:
        recs = year_records(city, tl, fy)
        pupils = recs.pop("_pupils")
        master = school_master(pupils["_uid"].to_numpy(), seed, fy)
        ydir, tdir = out / fy_dir(fy), truth / fy_dir(fy)
        tdir.mkdir(parents=True, exist_ok=True)
        allp = _people_lookup(city, tl)
        row_truth = []
        for path, df in recs.items():
            if not STYLES[path].get("keep_duplicates"):
                # two identical events (the same consultation twice on one day) would read as a broken duplicate
                df = df.drop_duplicates([c for c in df.columns if not c.startswith("_")], ignore_index=True)
            text, tr = render(path, df, seed, fy, master if STYLES[path].get("school") else None)
            write_csv(text, ydir / path, STYLES[path]["enc"])
            tr.insert(0, "row", np.arange(1, len(tr) + 1))
            tr.insert(0, "source", path)
            row_truth.append(tr)
            summary["files"][f"{fy_dir(fy)}/{path}"] = len(text)
            log.info("  %s/%s: %d 行", fy_dir(fy), path, len(text))
        rows = pd.concat(row_truth, ignore_index=True)
        reg = set(members_on(city, fy)["uid"].tolist())
        rows["atena_no"] = [f"{int(a):010d}" if u in reg else "" for u, a in
                            zip(rows["uid"], allp.reindex(rows["uid"])["atena_no"].fillna(-1), strict=True)]
        rows["on_registry"] = rows["uid"].isin(reg)
        rows.to_csv(tdir / "rows.csv", index=False, lineterminator="\n")
        _children_truth(city, fy, pupils).to_csv(tdir / "children.csv", index=False, lineterminator="\n")
        if "survey/seikatsu.csv" in recs:
            planted_effects().to_csv(tdir / "planted_effects.csv", index=False, lineterminator="\n")
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    (truth / "manifest.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    write_marker(out, truth, seed, children, years, __version__)
    return summary


def _people_lookup(city, tl) -> pd.DataFrame:
    cols = ["uid", "atena_no"]
    return pd.concat([city.persons[cols], tl.outside[cols]], ignore_index=True).set_index("uid")


def _children_truth(city, fy: int, pupils: pd.DataFrame) -> pd.DataFrame:
    """Each child in scope with its latent states (and, for pupils, the difficulties as recorded)."""
    m = members_on(city, fy)
    k = m[m["in_scope"]]
    out = pd.DataFrame({
        "uid": k["uid"], "atena_no": [f"{a:010d}" for a in k["atena_no"]], "setai_no": [f"{a:010d}" for a in k["setai_no"]],
        "birth": pd.to_datetime(k["birth"]).dt.strftime("%Y-%m-%d"), "sex": k["sex"], "age": k["age"], "grade": k["grade"],
        "foreign": k["foreign"], "public_school": k["public_school"], "twin": _twins(m).reindex(k.index).to_numpy(),
        "low_income": k["low_income"], "single_parent": k["single_parent"], "single_adult": k["single_adult"],
        "parental_disability": k["parental_disability"], "neglect_risk": k["neglect_risk"], "seiho": k["seiho"],
        "school_refusal": k["refusal"], "developmental_disability": k["developmental_disability"],
        "arrivals_5y": k["arrivals_5y"],
    })
    rec = pupils.set_index("_uid")[["poverty", "refusal", "enjo"]].add_prefix("recorded_")
    return out.merge(rec, left_on="uid", right_index=True, how="left")


def _twins(m: pd.DataFrame) -> pd.Series:
    kids = m[m["role"] == "child"]
    same = kids.groupby(["hh", "birth"])["uid"].transform("size") > 1
    return same.reindex(m.index, fill_value=False).astype(bool)
