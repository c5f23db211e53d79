"""Run parameters: one YAML per run (``params/fy2025.yaml``), read the same way by papermill and JupyterLab."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import os
from pathlib import Path
from typing import Any

import yaml

from . import paths


class ParamsError(ValueError):
    """A params file that cannot be used (message in Japanese, naming the file and key)."""


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@functools.lru_cache(maxsize=64)
def _parse(path: str, mtime: float) -> dict:
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ParamsError(f"パラメータファイルを読めません: {path}: {e}") from e


def read_yaml(path: Path) -> dict:
    """Read one YAML file (parsed once per version of the file), following ``extends:`` (a path relative to that
    file) recursively."""
    if not path.exists():
        raise ParamsError(f"パラメータファイルが見つかりません: {path}")
    data = copy.deepcopy(_parse(str(path), path.stat().st_mtime))
    if not isinstance(data, dict):
        raise ParamsError(f"パラメータファイルの形式が不正です (マッピングではありません): {path}")
    parent = data.pop("extends", None)
    if parent:
        data = _merge(read_yaml((path.parent / parent).resolve()), data)
    return data


def load_params(params_path: str | os.PathLike = "params/fy2025.yaml", overrides: dict | None = None) -> dict[str, Any]:
    """Load a run's parameters, apply overrides (CLI or notebook), and resolve its paths.

    Adds ``_params_path``, ``_raw_dir`` (``<raw>/<fy>``), ``_processed_dir``, ``_reports_dir`` and
    ``_internal_dir`` (absolute ``Path`` objects).
    """
    path = paths.resolve(params_path, paths.PARAMS / "fy2025.yaml")
    p = read_yaml(path)
    p = _merge(p, {k: v for k, v in (overrides or {}).items() if v is not None})
    if "fiscal_year" not in p:
        raise ParamsError(f"fiscal_year がありません: {path}")
    fy = int(p["fiscal_year"])
    ref = p.get("reference_date") or dt.date(fy, 9, 1)
    if isinstance(ref, str):
        ref = dt.date.fromisoformat(ref)
    p["reference_date"] = ref
    p["_params_path"] = path
    raw = paths.resolve(p.get("raw_dir"), paths.RAW)
    p["_raw_root"] = raw
    p["_raw_dir"] = raw / paths.fy_dir(fy)
    out = p.get("out_dir")
    p["_processed_dir"] = paths.processed_dir(out, fy)
    p["_reports_dir"] = paths.reports_dir(out)
    p["_internal_dir"] = p["_reports_dir"] / "internal" / paths.fy_dir(fy)
    return p


def year_params(p: dict, fy: int) -> dict:
    """The same run's parameters for another fiscal year (same raw and output roots)."""
    other = p.get("years", {}).get(fy) or p.get("years", {}).get(str(fy))
    path = paths.resolve(other, paths.PARAMS / f"fy{fy}.yaml") if other else paths.PARAMS / f"fy{fy}.yaml"
    return load_params(path, {"raw_dir": str(p["_raw_root"]), "out_dir": p.get("out_dir")})
