"""An incremental run writes what a run from nothing writes (issue 35). On a synthetic city generated here (not the
tests' city), run both years once; then, for each of ten single changes (a params value in ranking, indicators,
extraction, sharing, survey, disclosure and city; a line of the 外字 table; an item of the indicator catalogue; a cell
of a FY2024 export), run again on a copy of that out dir and from nothing on the same inputs, and compare every table,
paper and report the two wrote.

    python benchmarks/incremental.py                    # 3,000 children, seed 23 (about 25 minutes on 2 cores)
    python benchmarks/incremental.py --only gaiji ranking.C

What is left out of the comparison, and why: the run's own records (manifests, logs, the 提供記録 with its times),
dates and times printed in papers, the 処理時間 row of the evaluation (a measured duration) and the out dir's own path
in messages. Everything else — Parquet tables by value, workbooks by their sheets, HTML by their text and images —
must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "mimamori_lib.cli"]
CHANGES = {
    "ranking.C": "ranking: {C: 0.1}",
    "indicators.weights": "indicators: {weights: {B01: 2.0}}",
    "extraction.tier_band": "extraction: {exclude_supported: true, tier_band: 20}",
    "sharing.school.sources": "sharing: {recipients: {school: {sources: [shusseki, hokenshitsu]}}}",
    "survey.alpha": "survey: {alpha: 0.01}",
    "disclosure.threshold": "disclosure: {threshold: 7}",
    "city.name": "city: {name: 別府市立}",
    "gaiji": None, "catalogue": None, "export FY2024": None,
}
SKIP = ("run_manifest.json", ".ipynb", "logs/", "teikyo_kiroku", "purge_log", ".lock", "key_id.json", ".work-")
TIMES = re.compile(r"(令和\d+年\d+月\d+日|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[.\d+:]*|\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?)")
SECONDS = re.compile(r'"(training_seconds|seconds|started|ended|at|peak_mb|log)": [^,}\n]*')
DURATION_ROW = re.compile(r"処理時間 \(秒\)</th>.*?</tr>", re.S)


def run(params: Path, raw: Path, out: Path) -> str:
    r = subprocess.run([*CLI, "report", "--params", str(params), "--raw-dir", str(raw), "--out-dir", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit(f"mimamori report failed (exit {r.returncode}): {params}")
    return r.stderr


def content(f: Path, top: Path) -> str:
    """What a file says, without what may differ between two equal runs (see the module's docstring)."""
    if f.suffix == ".parquet":
        return pd.read_parquet(f).to_csv()
    if f.suffix == ".xlsx":
        with zipfile.ZipFile(f) as z:
            text = "".join(z.read(n).decode("utf-8", "ignore") for n in sorted(z.namelist())
                           if n.startswith("xl/worksheets") or n == "xl/sharedStrings.xml")
        return TIMES.sub("", text)
    text = f.read_bytes().decode("utf-8", "ignore").replace(str(top), "<OUT>")
    if f.suffix in (".html", ".csv", ".json"):
        text = DURATION_ROW.sub("", SECONDS.sub("", text))
    return TIMES.sub("", text)


def snapshot(out: Path, top: Path) -> dict[str, str]:
    return {str(f.relative_to(out)): content(f, top) for f in sorted(out.rglob("*"))
            if f.is_file() and not any(s in str(f.relative_to(out)) for s in SKIP)}


def city_file(case: Path, change: str | None, name: str) -> Path:
    """The case's one-file city: the default params, its own 外字 table, both years inline, and the change."""
    text = (f"extends: {ROOT / 'params' / 'common.yaml'}\ningest: {{gaiji: {case / 'gaiji.csv'}}}\n"
            "years: {2024: {}, 2025: {}}\n")
    if change:
        text += change + "\n"
    if name == "gaiji":
        (case / "gaiji.csv").write_text("コード,文字,読み\nU+E001,高,たか\n", encoding="utf-8-sig")
    if name == "catalogue":
        cat = case / "indicators.yaml"
        cat.write_text(f"extends: {ROOT / 'params' / 'indicators.yaml'}\nitems:\n"
                       "  B06: {rule: \"absence_prev - absence_prev_illness >= 20\"}\n", encoding="utf-8")
        text += f"indicators: {{catalogue: {cat}}}\n"
    if name == "export FY2024":
        f = case / "raw" / "fy2024" / "gakko" / "shusseki.csv"
        lines = f.read_text(encoding="utf-8-sig").splitlines(keepends=True)
        cells = lines[5].split(",")
        cells[lines[0].split(",").index("前年度欠席日数")] = "45"   # a pupil's absence last year, as the school exported it
        lines[5] = ",".join(cells)
        f.write_text("".join(lines), encoding="utf-8-sig")
    f = case / "city.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--children", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--only", nargs="+", choices=list(CHANGES), default=None)
    ap.add_argument("--work", default=None, help="a folder to keep the runs in (default: a temporary one)")
    ap.add_argument("--compare", action="store_true", help="compare the runs already in --work, run nothing")
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    w = Path(a.work) if a.work else Path(tmp.name)
    w.mkdir(parents=True, exist_ok=True)
    os.environ["MIMAMORI_KEY_FILE"] = str(w / "bench.key")
    base = w / "base"
    if not (base / "raw").exists():
        subprocess.run([*CLI, "synth", "--out", str(base / "raw"), "--children", str(a.children), "--seed", str(a.seed)],
                       check=True, cwd=ROOT, capture_output=True)
    if not a.compare:
        (base / "gaiji.csv").write_text("コード,文字,読み\nU+E001,髙,たか\n", encoding="utf-8-sig")
    if not (base / "out").exists() and not a.compare:
        run(city_file(base, None, "base"), base / "raw", base / "out")
    failed, results = 0, {}
    for name in a.only or CHANGES:
        case, clean = w / re.sub(r"\W", "_", name), w / (re.sub(r"\W", "_", name) + "_clean")
        ran = []
        if not a.compare:
            shutil.rmtree(case, ignore_errors=True)
            shutil.copytree(base, case, symlinks=True)
            params = city_file(case, CHANGES[name], name)
            log = run(params, case / "raw", case / "out")
            ran = sorted(set(re.findall(r"\[(fy\d+)\] (\d\d_\w+) を実行中", log)))
            shutil.rmtree(clean, ignore_errors=True)
            run(params, case / "raw", clean)
        inc, ref = snapshot(case / "out", case / "out"), snapshot(clean, clean)
        # what steps not re-run wrote names the folder the case was copied from
        inc = {k: v.replace(str(base / "out"), "<OUT>").replace(str(base), str(case)) for k, v in inc.items()}
        differ = sorted(k for k in set(inc) | set(ref) if inc.get(k) != ref.get(k))
        failed += bool(differ)
        reran = "" if a.compare else f"re-ran {len(ran):>2} of 16 steps; "
        print(f"{name:<24} {reran}{len(ref)} files compared; differ: {len(differ)} "
              f"{differ[:4]}", flush=True)
        results[name] = {"differ": differ} if a.compare else {"ran": [" ".join(r) for r in ran], "differ": differ}
        (w / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
