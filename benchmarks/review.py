"""Does reviewing only the pairs that change the list give the list of reviewing every pair? (issue 17)

On a city where `benchmarks/pipeline.py --data DIR` has run (FY2025's queue written, ordered by impact):

1. the list as it stands (pairs pending);
2. staff answer only the pairs whose 影響 says the list could change (from the synthetic truth), FY2025 re-runs;
3. staff answer every pending pair (from the truth), FY2025 re-runs.

The list of 2 and of 3 are compared child by child (extract ID, group, rank).

    python benchmarks/review.py --data DIR
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, env: dict) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "mimamori_lib.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"failed: mimamori {' '.join(args)}")
    return time.perf_counter() - t0


def _list(d: Path) -> pd.DataFrame:
    t = pd.read_csv(d / "out" / "reports" / "internal" / "fy2025" / "extraction.csv", dtype=str, keep_default_na=False)
    return t[["抽出ID", "グループ", "順位", "確認待ちの学校記録"]]


def _queue(d: Path) -> pd.DataFrame:
    from openpyxl import load_workbook

    ws = load_workbook(d / "out" / "reports" / "internal" / "fy2025" / "review_queue.xlsx", read_only=True)["要確認"]
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0]).dropna(subset=["ファイル"])


def _same(a: pd.DataFrame, b: pd.DataFrame) -> tuple[bool, int, int]:
    """Equal lists (child, group, rank)? And the children only in a, only in b."""
    ka = set(zip(a["抽出ID"], a["グループ"], strict=True))
    kb = set(zip(b["抽出ID"], b["グループ"], strict=True))
    cols = ["抽出ID", "グループ", "順位"]
    equal = a[cols].sort_values(cols).reset_index(drop=True).equals(b[cols].sort_values(cols).reset_index(drop=True))
    return equal, len(ka - kb), len(kb - ka)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a folder where benchmarks/pipeline.py ran")
    a = ap.parse_args()
    d = Path(a.data)
    env = {**os.environ, "MIMAMORI_KEY_FILE": str(d / "bench.key")}
    params = d / "bench.yaml"
    answers = d / "raw" / "fy2025" / "linkage" / "review_queue.xlsx"
    internal = d / "out" / "reports" / "internal" / "fy2025"
    answers.unlink(missing_ok=True)
    run = ["run", "--params", str(params), "--raw-dir", str(d / "raw"), "--out-dir", str(d / "out")]
    synth = ["synth", "review", "--fy", "2025", "--params", str(params), "--raw-dir", str(d / "raw"), "--out-dir", str(d / "out")]
    _cli(*run, env=env)
    base, q = _list(d), _queue(d)
    shutil.copy(internal / "review_queue.xlsx", d / "queue_baseline.xlsx")
    impact = q["影響"].str.split(" — ").str[0].value_counts()
    print(f"pending pairs: {len(q):,}")
    for k, v in impact.items():
        print(f"  {k}: {v:,}")
    print(f"children on the list flagged with a pending school record: {(base['確認待ちの学校記録'] != '').sum()} of {len(base)}")

    _cli(*synth, "--only-changing", env=env)
    secs = _cli(*run, env=env)
    only = _list(d)
    shutil.copy(d / "queue_baseline.xlsx", internal / "review_queue.xlsx")
    _cli(*synth, env=env)
    _cli(*run, env=env)
    every = _list(d)
    answers.unlink(missing_ok=True)

    eq, a_only, b_only = _same(only, every)
    changed = _same(base, every)
    print(f"\nre-run of FY2025 after the review: {secs:.1f} s")
    print(f"list before review vs every pair resolved: equal {changed[0]} (children in/out: {changed[1]}/{changed[2]})")
    print(f"only the changing pairs reviewed vs every pair resolved: equal {eq} (children in/out: {a_only}/{b_only})")


if __name__ == "__main__":
    main()
