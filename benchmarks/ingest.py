"""Benchmark ingestion: all FY2025 exports at Beppu scale (target < 10 s on 2 cores, memory well under 2 GB).

    python benchmarks/ingest.py [--children 16696]
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
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ["MIMAMORI_KEY_FILE"] = str(Path(d) / "bench.key")
        gen = measure(f"""
from pathlib import Path
from mimamori_lib.synth.generate import generate
generate(Path({d!r}) / "raw", Path({d!r}) / "truth", children={a.children}, seed=7, years=[2024, 2025])
""")
        r = measure(f"""
from mimamori_lib.params import load_params
from mimamori_lib import ingest
p = load_params("params/fy2025.yaml", {{"raw_dir": {d + '/raw'!r}, "out_dir": {d + '/out'!r}}})
res = ingest.run(p)
result["rows_read"] = int(sum(s.rows_read for s in res.sources.values()))
result["rows_quarantined"] = int(sum(s.rows_quarantined for s in res.sources.values()))
result["ingest_seconds"] = res.seconds
""")
    print(f"synthetic city ({a.children:,} children, 2 years): {gen['seconds']:.1f} s, peak {gen['peak_mb']:.0f} MB")
    print(f"FY2025 ingestion: {r['rows_read']:,} rows read, {r['rows_quarantined']} quarantined; "
          f"{r['ingest_seconds']:.2f} s in ingest_year ({r['seconds']:.2f} s with imports), peak {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
