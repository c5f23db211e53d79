"""Benchmark ingestion: all FY2025 exports at Beppu scale (target < 10 s on 2 cores, memory well under 2 GB),
beside the floor: a bare parse of the same CSV files (pandas' C parser, every cell as text, each file in the encoding
the registry gives it) — what reading the bytes costs before any checking, normalising or pseudonymising.

    python benchmarks/ingest.py [--children 16696] [--data DIR]   (DIR: a city already generated: DIR/raw)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=16696)
    ap.add_argument("--data", default=None, help="a city already generated (DIR/raw); outputs in a temporary folder")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["MIMAMORI_KEY_FILE"] = str(Path(d) / "bench.key")
        raw = str(Path(a.data) / "raw") if a.data else d + "/raw"
        if not a.data:
            gen = measure(f"""
from pathlib import Path
from mimamori_lib.synth.generate import generate
generate(Path({d!r}) / "raw", Path({d!r}) / "truth", children={a.children}, seed=7, years=[2024, 2025])
""")
            print(f"synthetic city ({a.children:,} children, 2 years): {gen['seconds']:.1f} s, peak {gen['peak_mb']:.0f} MB")
        floor = measure(f"""
import time
import pandas as pd
from mimamori_lib.catalogue.registry import load_registry
from mimamori_lib.params import load_params
p = load_params("params/fy2025.yaml", {{"raw_dir": {raw!r}, "out_dir": {d + '/floor'!r}}})
t0 = time.perf_counter()
rows = 0
for spec in load_registry(p).values():
    f = p.raw_year / spec["path"]
    if f.suffix == ".csv" and f.exists():
        rows += len(pd.read_csv(f, dtype=str, keep_default_na=False, encoding=spec.get("encoding") or "utf-8-sig",
                                encoding_errors="replace"))
result["rows"], result["parse_seconds"] = rows, time.perf_counter() - t0
""")
        r = measure(f"""
from mimamori_lib.params import load_params
from mimamori_lib import ingest
p = load_params("params/fy2025.yaml", {{"raw_dir": {raw!r}, "out_dir": {d + '/out'!r}}})
res = ingest.run(p)
result["rows_read"] = int(sum(s.rows_read for s in res.sources.values()))
result["rows_quarantined"] = int(sum(s.rows_quarantined for s in res.sources.values()))
result["ingest_seconds"] = res.seconds
""")
    print(f"floor, a bare CSV parse of the same files: {floor['rows']:,} rows, {floor['parse_seconds']:.2f} s, "
          f"peak {floor['peak_mb']:.0f} MB")
    print(f"FY2025 ingestion: {r['rows_read']:,} rows read, {r['rows_quarantined']} quarantined; "
          f"{r['ingest_seconds']:.2f} s in ingest_year ({r['seconds']:.2f} s with imports), peak {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
