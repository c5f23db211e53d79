"""Time 25_ranking's work — items and evidence, outcomes and the backtest of every ranking, the fitted model and
this year's scores with reasons — on a city whose earlier years have run (`benchmarks/pipeline.py --data DIR` or
`mimamori report`). Run in one process, after the imports (the notebook's kernel start is timed by the pipeline
benchmark).

    python benchmarks/ranking.py --data DIR [--params params/fy2025.yaml]

Targets (issue 10): train, backtest and score at Beppu scale in under 5 s; at 500,000 children under 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with raw/ and out/ (and bench.key) of an earlier run")
    ap.add_argument("--params", default="params/fy2025.yaml")
    a = ap.parse_args()
    d = Path(a.data)
    if (d / "bench.key").exists():
        os.environ.setdefault("MIMAMORI_KEY_FILE", str(d / "bench.key"))
    t0 = time.perf_counter()
    import sklearn.linear_model  # noqa: F401  (imports timed apart: the kernel pays them once)

    from mimamori_lib import ranking
    from mimamori_lib.params import load_params

    t_import = time.perf_counter() - t0
    p = load_params(a.params, {"raw_dir": str(d / "raw"), "out_dir": str(d / "out")})
    t1 = time.perf_counter()
    r = ranking.run(p, write=False)
    total = time.perf_counter() - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(r.frame)
    print(f"FY{p.fiscal_year}: {n:,} children in scope, pairs {r.pairs}")
    print(f"  imports (scikit-learn, library)        {t_import:6.1f} s")
    print(f"  items and evidence                     {r.seconds['items']:6.1f} s")
    print(f"  outcomes, backtest, fairness           {r.seconds['backtest']:6.1f} s")
    print(f"  model on every pair, scores, reasons   {r.seconds['total'] - r.seconds['items'] - r.seconds['backtest']:6.1f} s")
    print(f"  train + backtest + score (total)       {total:6.1f} s, peak {peak:,.0f} MB")
    if r.backtest is not None:
        print(r.backtest.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
