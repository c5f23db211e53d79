"""Whom the list reaches, by kind of need and by age (issue 25), on a synthetic city: among the children not yet
supported who are in need by the synthetic truth (poverty, 不登校 or neglect), how many the FY2025 list holds — overall,
per kind and per age band — its precision per 30 listed, and the children with acute need (neglect or 不登校) it finds
against the count ranking of the same length.

    python benchmarks/strata.py --data DIR [--children 16696] [--params-extra "extraction: {...}"]

The run uses `extraction: {exclude_supported: true, tier_band: 100, ranking: model}` (the strata on by default).
Targets: at least 20 in need per 30 listed; at least as many with acute need as the count ranking; every age band and
each of 貧困 and 不登校 at a recall of at least half the overall recall.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BANDS = [(0, 5, "0–5"), (6, 11, "6–11"), (12, 14, "12–14"), (15, 18, "15–18")]


def _truth_table(d: Path, fy: int) -> pd.DataFrame:
    """FY's scores with each child's truth (in need, kind, age)."""
    os.environ.setdefault("MIMAMORI_KEY_FILE", str(d / "bench.key"))
    from mimamori_lib.catalogue.registry import registry_path
    from mimamori_lib.catalogue.tables import read_identity
    from mimamori_lib.params import load_params

    p = load_params(d / "bench.yaml", {"raw_dir": str(d / "raw"), "out_dir": str(d / "out")})
    scores = pd.read_parquet(p.processed / "scores.parquet")
    reg = read_identity(p, columns=["person_id", "atena_no"], sources=[registry_path(p)]).drop_duplicates("person_id")
    kids = pd.read_csv(d / "synthetic_truth" / f"fy{fy}" / "children.csv", dtype=str, keep_default_na=False)
    t = scores.merge(reg, on="person_id", how="left").merge(kids, on="atena_no", how="left", suffixes=("", "_truth"))
    for c in ("low_income", "school_refusal", "neglect_risk"):
        t[c] = t[c] == "True"
    t["in_need"] = t["low_income"] | t["school_refusal"] | t["neglect_risk"]
    t["acute"] = t["school_refusal"] | t["neglect_risk"]
    t["listed"] = t["group"] != ""
    return t


def _row(name: str, pool: pd.DataFrame) -> dict:
    n, hit = len(pool), int(pool["listed"].sum())
    return {"group": name, "pool": n, "listed": hit, "recall": round(hit / n, 3) if n else None}


def table(t: pd.DataFrame) -> pd.DataFrame:
    pool = t[~t["supported"].astype(bool) & t["in_need"]]
    rows = [_row("all", pool), _row("不登校", pool[pool["school_refusal"]]), _row("poverty", pool[pool["low_income"]]),
            _row("neglect", pool[pool["neglect_risk"]])]
    rows += [_row(f"aged {label}", pool[pool["age"].between(lo, hi)]) for lo, hi, label in BANDS]
    return pd.DataFrame(rows)


def count_list(t: pd.DataFrame) -> pd.Series:
    """The count ranking's list of the same length: the same groups 1 and 2, and as many of the remaining not-yet-
    supported children with an item as the band holds, by counts (basic value first)."""
    groups = t["group"].isin(["basic", "other"])
    n = int((t["group"] == "tier").sum())
    cand = t[~t["supported"].astype(bool) & ~groups & ((t["basic_count"] + t["other_count"]) > 0)]
    band = cand.sort_values(["basic_value", "other_value", "person_id"], ascending=[False, False, True]).index[:n]
    return groups | t.index.isin(band)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--children", type=int, default=16696)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--params-extra", default="")
    a = ap.parse_args()
    d = Path(a.data)
    d.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MIMAMORI_KEY_FILE": str(d / "bench.key")}
    py = [sys.executable, "-m", "mimamori_lib.cli"]
    if not (d / "raw" / "fy2025").exists():
        subprocess.run([*py, "synth", "--out", str(d / "raw"), "--children", str(a.children), "--seed", str(a.seed)],
                       env=env, cwd=ROOT, check=True)
    (d / "bench.yaml").write_text(f"extends: {ROOT / 'params' / 'fy2025.yaml'}\nextraction:\n  exclude_supported: true\n"
                                  f"  tier_band: 100\n  ranking: model\n{a.params_extra}\n", encoding="utf-8")
    r = subprocess.run([*py, "report", "--params", str(d / "bench.yaml"), "--raw-dir", str(d / "raw"), "--out-dir",
                        str(d / "out")], env=env, cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit(r.returncode)
    t = _truth_table(d, 2025)
    print(table(t).to_string(index=False))
    tier = t[t["group"] == "tier"]
    if "stratum" in t and tier["stratum"].astype(bool).any():
        print("\nplaces per stratum (in need):")
        print(tier.groupby("stratum").agg(places=("person_id", "size"), in_need=("in_need", "sum"),
                                           acute=("acute", "sum")).to_string())
    listed = t[t["listed"]]
    need = int(listed["in_need"].sum())
    print(f"\nlisted {len(listed)}, in need {need} ({30 * need / len(listed):.1f} per 30 listed)")
    c = count_list(t)
    print(f"acute need (neglect or 不登校) found: list {int(listed['acute'].sum())}, count ranking of the same length "
          f"{int(t.loc[c, 'acute'].sum())} (its length {int(c.sum())})")
    overall = table(t).set_index("group")["recall"]
    half = overall["all"] / 2
    weak = [g for g in ["不登校", "poverty", *[f"aged {b[2]}" for b in BANDS]] if (overall[g] or 0) < half]
    print(f"groups below half the overall recall ({half:.3f}): {', '.join(weak) or 'none'}")


if __name__ == "__main__":
    main()
