"""The run manifest (``reports/<fy>/run_manifest.json``): what produced a year's outputs — resolved params, input
files' hashes, package versions, code version — and each step's fingerprint, outcome, seconds and peak memory.
The runner reads the fingerprints from it to skip steps that are up to date."""

from __future__ import annotations

import datetime as dt
import functools
import json
import subprocess
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .. import __version__, paths
from ..params import Params
from .fingerprint import code_hash, file_hash
from .steps import STEPS

PACKAGES = ("pandas", "numpy", "pyarrow", "pandera", "splink", "duckdb", "scikit-learn", "statsmodels", "scipy", "highspy",
            "matplotlib", "papermill", "nbconvert", "openpyxl", "pydantic", "jaconv")
_lock = threading.Lock()


def manifest_path(p: Params) -> Path:
    return p.reports / p.fy / "run_manifest.json"


def read(p: Params) -> dict:
    f = manifest_path(p)
    if not f.exists():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        return {}


@functools.cache
def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@functools.cache
def git_commit() -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.ROOT, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=paths.ROOT,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if r.returncode != 0:
        return None
    return r.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def start(p: Params, log_file: Path) -> bool:
    """Record what this run of the year starts from (params, inputs, versions); keep the steps' last records.
    Returns whether any of it differs from the last run's, or a step of the last run did not end well (then some
    step will probably run)."""
    with _lock:
        m = read(p)
        now = {"params": p.model_dump(mode="json"),
               "inputs": {f: file_hash(p.raw_year / f) for f in sorted({f for s in STEPS.values() for f in s.raw_files(p)})},
               "code": {"version": __version__, "hash": code_hash(), "git": git_commit()}}
        changed = any(m.get(k) != v for k, v in now.items()) or not m.get("steps") or any(
            s.get("outcome") not in ("ran", "skipped") for s in m["steps"].values())
        m.update({"fiscal_year": p.fiscal_year, "params_file": str(p.params_path), **now, "packages": package_versions(),
                  "started": dt.datetime.now().isoformat(timespec="seconds"), "log": str(log_file)})
        m.setdefault("steps", {})
        _write(p, m)
        return changed


def finish(p: Params, since: float) -> None:
    """Record the inputs as the run left them: a file written during the run (the demo's meeting decisions, say) is
    hashed again, so that the next run compares with what the steps read."""
    with _lock:
        m = read(p)
        inputs = m.get("inputs", {})
        for f in inputs:
            path = p.raw_year / f
            if path.is_file() and path.stat().st_mtime >= since:
                inputs[f] = file_hash(path)
        _write(p, m)


def record_step(p: Params, name: str, entry: dict) -> None:
    """A step's record (fingerprint, outcome, seconds, peak memory, output hashes)."""
    with _lock:
        m = read(p)
        m.setdefault("steps", {})[name] = {**entry, "at": dt.datetime.now().isoformat(timespec="seconds")}
        _write(p, m)


def _write(p: Params, m: dict) -> None:
    f = manifest_path(p)
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps(m, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(f)


def step_seconds(p: Params) -> float | None:
    """Seconds of the year's steps as last run (the evaluation's run-time indicator)."""
    steps = read(p).get("steps", {})
    secs = [s.get("seconds") for s in steps.values() if s.get("outcome") in ("ran", "skipped")]
    return round(sum(x for x in secs if x), 1) if secs else None
