"""Benchmark 名寄せ: time, peak memory and precision/recall/F1 against the synthetic truth.

    python benchmarks/linkage.py                       # Beppu scale (16,696 children): target < 15 s
    python benchmarks/linkage.py --children 500000     # 30x (Yokohama): target < 5 min, < 8 GB
    python benchmarks/linkage.py --data DIR            # reuse a city generated earlier (DIR/raw, DIR/synthetic_truth)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=16696)
    ap.add_argument("--data", default=None, help="folder with raw/ and synthetic_truth/ (generated if missing)")
    ap.add_argument("--backend", default="duckdb", choices=["duckdb", "spark"])
    ap.add_argument("--reuse", action="store_true", help="reuse an earlier ingestion of --data")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    d = Path(a.data) if a.data else Path(tmp.name)
    os.environ["MIMAMORI_KEY_FILE"] = str(d / "bench.key")
    if not (d / "raw" / "fy2025").exists():
        g = measure(f"""
from pathlib import Path
from mimamori_lib.synth.generate import generate
generate(Path({str(d)!r}) / "raw", Path({str(d)!r}) / "synthetic_truth", children={a.children}, seed=7, years=[2024, 2025])
""")
        print(f"generated {a.children:,} children in {g['seconds']:.0f} s")
    over = {"raw_dir": str(d / "raw"), "out_dir": str(d / "out"), "linkage": {"backend": a.backend}}
    ing = {"seconds": 0.0, "peak_mb": 0.0} if (d / "out" / "processed" / "fy2025" / "ingest_summary.csv").exists() and a.reuse else measure(f"""
from mimamori_lib.params import load_params
from mimamori_lib.ingest import ingest_year
ingest_year(load_params("params/fy2025.yaml", {json.dumps(over)!s}))
""")
    r = measure(f"""
from mimamori_lib.params import load_params
from mimamori_lib.linkage import link_year
from mimamori_lib.ingest import read_identity
from mimamori_lib.synth.evaluate import linkage_accuracy, truth_dir
p = load_params("params/fy2025.yaml", {json.dumps(over)!s})
res = link_year(p)
result["link_seconds"] = res.seconds
result["training_seconds"] = res.training.seconds
result["records"] = int(len(res.links))
result["accuracy"] = linkage_accuracy(res.links, read_identity(p), truth_dir(p))
""")
    acc = r["accuracy"]
    print(f"{'reused ' + str(d) if a.reuse else f'children {a.children:,}'}; FY2025 ingestion {ing['seconds']:.1f} s (peak {ing['peak_mb']:.0f} MB)")
    print(f"linkage ({a.backend}): {r['records']:,} school-network records, {r['link_seconds']:.1f} s in link_year "
          f"(training {r['training_seconds']:.1f} s; {r['seconds']:.1f} s with imports), peak {r['peak_mb']:.0f} MB")
    print(f"precision {acc['precision']:.4f}  recall {acc['recall']:.4f}  F1 {acc['f1']:.4f}  "
          f"(tp {acc['tp']}, fp {acc['fp']}, fn {acc['fn']}; in review {acc['in_review']}; merged twins {acc['merged_twins']}; "
          f"registry-absent records linked {acc['absent_linked']} of {acc['absent_records']})")


if __name__ == "__main__":
    main()
