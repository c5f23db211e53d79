"""Benchmark 名寄せ against its peers on the same synthetic city, in one invocation: mimamori's link step, an exact
join on reading and birth date, and recordlinkage with ECM (``pip install -e .[bench]``). Each runs as a whole
process (reading the identity table, building the sides, linking); time is the median of ``--repeat`` runs, with
peak memory, precision, recall and F1 against the truth side by side, and mimamori's recall per hard case.

    python benchmarks/linkage.py                       # Beppu scale (16,696 children)
    python benchmarks/linkage.py --children 500000     # 30x: target < 2 min and < 4 GB for the link step
    python benchmarks/linkage.py --data DIR            # reuse a city generated earlier (DIR/raw, DIR/synthetic_truth)
    python benchmarks/linkage.py --backend spark       # mimamori on DuckDB beside mimamori scoring on local Spark
                                                       # (pip install -e .[spark], Java 17+)
    python benchmarks/linkage.py --keys 2 --only mimamori --children 500000
                                                       # both years with two pseudonym keys: the review queue and
                                                       # accuracy must not depend on the key (issue 37: within 2%)

Targets (issue 13): at Beppu scale the link step takes at most recordlinkage's time with a higher F1; precision
≥ 0.9995, recall ≥ 0.997, no twin merged, ≥ 99.5% of registry-absent children unmatched, review queue ≤ 0.5%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import measure  # noqa: E402

SETUP = """
import sys
sys.path.insert(0, {bench!r})
from mimamori_lib.params import load_params
p = load_params("params/fy2025.yaml", {over})
"""
EVAL = """
from mimamori_lib.catalogue.tables import read_identity
from mimamori_lib.synth.evaluate import linkage_accuracy, linkage_breakdown, truth_dir
ident = read_identity(p)
result["accuracy"] = linkage_accuracy(links, ident, truth_dir(p))
result["cases"] = linkage_breakdown(links, ident, truth_dir(p), p.reference_date).to_dict("records")
"""
METHODS = {
    "mimamori (Splink)": """
from mimamori_lib import linkage
res = linkage.run(p)
links = res.links
result["split"] = {"training": res.training.seconds}
""",
    "mimamori (Splink, Spark scoring)": """
from mimamori_lib import linkage
q = p.with_overrides({"linkage": {"backend": "spark"}})
res = linkage.run(q, write=False)
links = res.links
result["split"] = {"training": res.training.seconds}
""",
    "exact join (reading + birth date)": """
import peers
links = peers.exact_join(*peers.inputs(p))
""",
    "recordlinkage (ECM)": """
import peers
links = peers.recordlinkage_ecm(*peers.inputs(p))
""",
}


def run(method: str, setup: str, repeat: int) -> dict:
    """Time and memory of the method alone (whole process), then its accuracy in a separate process."""
    runs = [measure(setup + METHODS[method]) for _ in range(repeat)]
    acc = measure(setup + METHODS[method] + EVAL) if method != "mimamori (Splink)" else measure(
        setup + "from mimamori_lib.linkage import read_links\nlinks = read_links(p)\n" + EVAL)
    return {"seconds": statistics.median(r["seconds"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs),
            "accuracy": acc["accuracy"], "cases": acc["cases"], "split": runs[0].get("split")}


KEYED = """
import os
os.environ["MIMAMORI_KEY_FILE"] = {key!r}
from mimamori_lib import ingest, linkage
from mimamori_lib.catalogue.tables import read_identity
from mimamori_lib.params import load_params
from mimamori_lib.synth.evaluate import linkage_accuracy, truth_dir
p = load_params("params/fy{fy}.yaml", {over})
if not (p.processed / "ingest_summary.csv").exists():
    ingest.run(p)
res = linkage.run(p)
acc = linkage_accuracy(res.links, read_identity(p), truth_dir(p))
result.update(review=len(res.review), precision=acc["precision"], recall=acc["recall"])
"""


def with_keys(d: Path, keys: int) -> None:
    """Both years linked with each of ``keys`` new pseudonym keys, each in its own out dir (issue 37)."""
    from mimamori_lib.privacy.pseudonym import new_key

    rows = []
    for k in range(keys):
        key = d / f"key{k + 1}.key"
        if not key.exists():
            new_key(key)
        for fy in (2024, 2025):
            over = json.dumps({"raw_dir": str(d / "raw"), "out_dir": str(d / f"out_key{k + 1}")})
            r = measure(KEYED.format(key=str(key), fy=fy, over=over))
            rows.append((k + 1, fy, r))
            print(f"key {k + 1} FY{fy}: review pairs {r['review']:,}, precision {r['precision']:.4f}, "
                  f"recall {r['recall']:.4f} ({r['seconds']:.0f} s, peak {r['peak_mb']:,.0f} MB)", flush=True)
    for fy in (2024, 2025):
        counts = [r["review"] for _, y, r in rows if y == fy]
        spread = (max(counts) - min(counts)) / max(max(counts), 1)
        print(f"FY{fy}: review pairs across keys {counts}, spread {spread:.1%} (target ≤ 2%)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=16696)
    ap.add_argument("--data", default=None, help="folder with raw/ and synthetic_truth/ (generated if missing)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per method (the median time is reported)")
    ap.add_argument("--only", choices=["mimamori"], default=None, help="skip the peers (e.g. at 30x)")
    ap.add_argument("--backend", choices=["duckdb", "spark"], default="duckdb",
                    help="spark: mimamori on DuckDB beside mimamori scoring on local Spark (no peers)")
    ap.add_argument("--keys", type=int, default=0, help="link both years with this many keys instead (issue 37)")
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
    if a.keys:
        with_keys(d, a.keys)
        return
    over = json.dumps({"raw_dir": str(d / "raw"), "out_dir": str(d / "out")})
    setup = SETUP.format(bench=str(Path(__file__).resolve().parent), over=over)
    if not (d / "out" / "processed" / "fy2025" / "ingest_summary.csv").exists():
        ing = measure(setup + "from mimamori_lib import ingest\ningest.run(p)\n")
        print(f"FY2025 ingestion: {ing['seconds']:.1f} s, peak {ing['peak_mb']:,.0f} MB")
    peers = [m for m in METHODS if not m.startswith("mimamori")]
    methods = (["mimamori (Splink)", "mimamori (Splink, Spark scoring)"] if a.backend == "spark"
               else ["mimamori (Splink)"] if a.only else ["mimamori (Splink)", *peers])
    results = {m: run(m, setup, a.repeat) for m in methods}
    base = results["mimamori (Splink)"]
    print(f"\n{'method':<36} {'seconds':>8} {'peak MB':>8} {'precision':>10} {'recall':>8} {'F1':>8} {'time ÷ mimamori':>16}")
    for m, r in results.items():
        acc = r["accuracy"]
        print(f"{m:<36} {r['seconds']:>8.1f} {r['peak_mb']:>8,.0f} {acc['precision']:>10.4f} {acc['recall']:>8.4f} "
              f"{acc['f1']:>8.4f} {r['seconds'] / base['seconds']:>16.2f}")
    acc = base["accuracy"]
    print(f"\nmimamori: {acc['records']:,} records, tp {acc['tp']}, fp {acc['fp']}, fn {acc['fn']}; in review {acc['in_review']} "
          f"({acc['in_review'] / acc['records']:.2%}); merged twins {acc['merged_twins']}; registry-absent records linked "
          f"{acc['absent_linked']} of {acc['absent_records']}; training {base['split']['training']:.1f} s")
    print(f"\n{'recall by case':<44} " + " ".join(f"{m.split(' ')[0]:>14}" for m in results))
    cases = {m: {c["case"]: c for c in r["cases"]} for m, r in results.items()}
    for case in cases["mimamori (Splink)"]:
        row = [cases[m].get(case, {}) for m in results]
        n = row[0].get("true_links", 0)
        print(f"{case + f' ({n})':<44} " + " ".join(f"{(x.get('recall') or 0):>14.4f}" for x in row))


if __name__ == "__main__":
    main()
