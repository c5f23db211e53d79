"""The run manifest (``reports/<fy>/run_manifest.json``): what produced a year's outputs — resolved params, input
files' hashes, package versions, code version — and each step's fingerprint, outcome, seconds, peak memory and the
hashes of what it wrote. A step's record is removed when it starts and written when every output is complete, so a
step that was killed half-way has no record and runs again."""

from __future__ import annotations

import datetime as dt
import functools
import json
import subprocess
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .. import __version__, paths
from ..catalogue import datasets
from ..params import Params
from ..privacy.restricted import atomic_file
from .fingerprint import code_hash, file_hash
from .steps import STEPS

PACKAGES = ("pandas", "numpy", "pyarrow", "pandera", "splink", "duckdb", "scikit-learn", "statsmodels", "scipy", "highspy",
            "matplotlib", "papermill", "nbconvert", "openpyxl", "pydantic", "jaconv")
_lock = threading.Lock()


def manifest_path(p: Params) -> Path:
    return datasets.path(p, "run_manifest")


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


def _raw_inputs(p: Params) -> dict[str, str]:
    files = {f for s in STEPS.values() for f in s.raw_files(p)}
    return {str(f.relative_to(p.raw_year)) if f.is_relative_to(p.raw_year) else str(f): file_hash(f) for f in sorted(files)}


def start(p: Params, log_file: Path) -> None:
    """Record what this run of the year starts from (params, inputs, versions); keep the steps' last records."""
    with _lock:
        m = read(p)
        m.update({"fiscal_year": p.fiscal_year, "params_file": str(p.params_path), "params": p.model_dump(mode="json"),
                  "inputs": _raw_inputs(p), "code": {"version": __version__, "hash": code_hash(), "git": git_commit()},
                  "packages": package_versions(), "started": dt.datetime.now().isoformat(timespec="seconds"),
                  "log": str(log_file)})
        m.setdefault("steps", {})
        _write(p, m)


def finish(p: Params) -> None:
    """Record the inputs as the run left them (the demo writes the meeting's decisions during the run)."""
    with _lock:
        m = read(p)
        m["inputs"] = _raw_inputs(p)
        _write(p, m)


def step_record(p: Params, name: str) -> dict:
    return read(p).get("steps", {}).get(name, {})


def forget_step(p: Params, name: str) -> None:
    """Remove a step's record: it is about to run, and until it finishes nothing it wrote counts."""
    with _lock:
        m = read(p)
        if m.get("steps", {}).pop(name, None) is not None:
            _write(p, m)


def record_step(p: Params, name: str, entry: dict) -> None:
    """A step's record (fingerprint, outcome, seconds, peak memory, output hashes)."""
    with _lock:
        m = read(p)
        m.setdefault("steps", {})[name] = {**entry, "at": dt.datetime.now().isoformat(timespec="seconds")}
        _write(p, m)


def _write(p: Params, m: dict) -> None:
    with atomic_file(manifest_path(p)) as tmp:
        tmp.write_text(json.dumps(m, ensure_ascii=False, indent=1), encoding="utf-8")
