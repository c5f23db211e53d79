"""Benchmark the whole run: `mimamori report` on a synthetic city (generation timed apart), then the same command
again after changing only `extraction.tier_band` (the re-run), with each step's seconds and peak memory from the run
manifests.

    python benchmarks/pipeline.py [--children 16696] [--workers 2] [--data DIR]

Targets (issue 34; each step on a fresh kernel, public APIs only): both years plus evaluation at Beppu scale,
installed, data present, from nothing, within 50 s on two cores; the re-run after changing the tier band within 10 s;
500,000 children both years within 300 s and 4 GB for every process together.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _memory_kb(pid: int) -> int:
    """A process's proportional set size (its private memory plus its share of pages shared with others), or its
    resident size where the kernel does not report it."""
    for name, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(name).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


def _tree_rss_mb(pid: int) -> float:
    """Memory of a process and its descendants (the kernels), in MB: shared pages counted once."""
    total = 0
    pids = [pid]
    while pids:
        q = pids.pop()
        try:
            children = [c for t in Path(f"/proc/{q}/task").iterdir() for c in (t / "children").read_text().split()]
        except OSError:
            continue
        total += _memory_kb(q)
        pids += [int(c) for c in children]
    return total / 1024


def _run(args: list[str], env: dict) -> tuple[float, float]:
    """Run a command; (seconds, peak resident memory of it and its kernels together, MB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def watch() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    _, err = proc.communicate()
    w.join()
    if proc.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"failed: {' '.join(args)}")
    return time.perf_counter() - t0, peak[0]


def _steps(out: Path) -> list[tuple[str, dict]]:
    rows = []
    for fy in sorted(p.name for p in (out / "reports").glob("fy*")):
        m = json.loads((out / "reports" / fy / "run_manifest.json").read_text(encoding="utf-8"))
        rows += [(f"{fy} {name}", s) for name, s in sorted(m["steps"].items())]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=16696)
    ap.add_argument("--workers", type=int, default=None, help="run.workers (default: the params' value)")
    ap.add_argument("--data", default=None, help="keep the city and outputs here (default: a temporary folder)")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    d = Path(a.data) if a.data else Path(tmp.name)
    d.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MIMAMORI_KEY_FILE": str(d / "bench.key")}
    py = sys.executable
    if not (d / "raw" / "fy2025").exists():
        secs, peak = _run([py, "-m", "mimamori_lib.cli", "synth", "--out", str(d / "raw"), "--children", str(a.children)], env)
        print(f"synthetic city ({a.children:,} children, both years): {secs:.1f} s, peak {peak:,.0f} MB")
    _bench(d, env, a.workers)


def _bench(d: Path, env: dict, workers: int | None) -> None:
    """From nothing, the tier-band re-run and a re-run with nothing changed."""
    py = sys.executable
    params = d / "bench.yaml"
    extra = f"  workers: {workers}\n" if workers else ""
    params.write_text(f"extends: {ROOT / 'params' / 'fy2025.yaml'}\n" + (f"run:\n{extra}" if extra else ""),
                      encoding="utf-8")
    report = [py, "-m", "mimamori_lib.cli", "report", "--params", str(params), "--raw-dir", str(d / "raw"),
              "--out-dir", str(d / "out")]
    secs, peak = _run([*report, "--force"], env)
    print(f"both years and evaluation from nothing: {secs:.1f} s (whole command), peak {peak:,.0f} MB (all processes)")
    print(f"  {'step':<26} {'seconds':>8} {'peak MB':>8} {'kernel':>7} {'1st cell':>8} {'cells':>7} {'report':>7}")
    for name, s in _steps(d / "out"):
        t = s.get("timing") or {}
        print(f"  {name:<26} {s.get('seconds') or 0:>8.1f} {s.get('peak_mb') or 0:>8,.0f} {t.get('kernel', 0):>7.1f} "
              f"{t.get('first_cell', 0):>8.1f} {t.get('cells', 0):>7.1f} {t.get('report', 0):>7.1f}")
    print("  (kernel: its start, or the wait for one started ahead, and papermill's setup; 1st cell: imports and params, "
          "in some notebooks the stage too; report: the HTML)")
    params.write_text(params.read_text(encoding="utf-8") + "extraction:\n  tier_band: 30\n", encoding="utf-8")
    secs2, peak2 = _run(report, env)
    ran = [name for name, s in _steps(d / "out") if s.get("outcome") == "ran"]
    print(f"re-run after changing only extraction.tier_band: {secs2:.1f} s (ran: {', '.join(ran)}), peak {peak2:,.0f} MB")
    secs3, _ = _run(report, env)
    print(f"re-run with nothing changed: {secs3:.1f} s")

if __name__ == "__main__":
    main()
