"""Benchmark the synthetic city: generation time and memory by size (linear scaling), Beppu scale < 30 s.

    python benchmarks/synth.py                      # 16,696 and 2x, 4x Beppu
    python benchmarks/synth.py --children 500000    # a given size (e.g. the 30x linkage benchmark)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import measure  # noqa: E402

BEPPU = 16696


def run(children: int, out: Path) -> dict:
    return measure(f"""
from pathlib import Path
from mimamori_lib.synth.generate import generate
s = generate(Path({str(out / 'raw')!r}), Path({str(out / 'truth')!r}), children={children}, seed=7, years=[2024, 2025])
result["rows"] = sum(s["files"].values())
""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, nargs="*", default=[BEPPU, 2 * BEPPU, 4 * BEPPU])
    a = ap.parse_args()
    base = None
    print(f"{'children':>10} {'rows':>10} {'seconds':>8} {'peak MB':>8} {'s per 10k children':>18}")
    for n in a.children:
        with tempfile.TemporaryDirectory() as d:
            r = run(n, Path(d))
        per = r["seconds"] / n * 10_000
        base = base or per
        print(f"{n:>10,} {r['rows']:>10,} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {per:>12.2f} ({per / base:.2f}x)")


if __name__ == "__main__":
    main()
