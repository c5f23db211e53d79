"""Benchmark the whole demo (`make report` after the install step): target under 90 s at Beppu scale on 2 cores.
Prints the split by stage: generation, then each notebook of each year (kernel start-up included).

    python benchmarks/pipeline.py [--children 16696]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=16696)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        env = {**os.environ, "MIMAMORI_KEY_FILE": str(Path(d) / "bench.key")}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mimamori_lib.cli", "report", "--demo", "--raw-dir", f"{d}/raw", "--out-dir", f"{d}/out",
                        "--children", str(a.children)], check=True, env=env, cwd=ROOT, capture_output=True)
        total = time.perf_counter() - t0
        gen = json.loads((Path(d) / "synthetic_truth" / "manifest.json").read_text())["seconds"]
        print(f"make report equivalent at {a.children:,} children: {total:.1f} s in all")
        print(f"  {'synthetic city':<28} {gen:6.1f} s")
        for fy in sorted(p.name for p in (Path(d) / "out" / "reports").glob("fy*")):
            steps = json.loads((Path(d) / "out" / "reports" / fy / "run_steps.json").read_text())
            for s in steps:
                print(f"  {fy + ' ' + s['step']:<28} {s['seconds']:6.1f} s")
            print(f"  {fy + ' (all steps)':<28} {sum(s['seconds'] for s in steps):6.1f} s")
        steps_total = sum(sum(s["seconds"] for s in json.loads((Path(d) / "out" / "reports" / fy / "run_steps.json").read_text()))
                          for fy in ("fy2024", "fy2025"))
        print(f"  {'other (start-up, meeting)':<28} {total - gen - steps_total:6.1f} s")
        os.environ["MIMAMORI_KEY_FILE"] = env["MIMAMORI_KEY_FILE"]
        from mimamori_lib.evaluation import funnel
        from mimamori_lib.params import load_params, run_years, year_params

        base = load_params(ROOT / "params" / "fy2025.yaml", {"raw_dir": f"{d}/raw", "out_dir": f"{d}/out"})
        for fy in run_years(base):
            f = funnel(year_params(base, fy))
            keys = ("in_scope", "extracted", "extracted_basic", "extracted_other", "already_supported", "need_support",
                    "new_need", "support_started", "days_to_decision", "days_to_support")
            print(f"  funnel FY{fy}: " + ", ".join(f"{k}={f.get(k)}" for k in keys))


if __name__ == "__main__":
    main()
