"""The source registry (``params/sources.yaml``): every export the system receives, as data."""

from __future__ import annotations

import functools
import json

from ..params import Params, read_data_file


def load_registry(p: Params) -> dict[str, dict]:
    """The source registry named in params (``ingest.registry``), with each source's columns flattened and the run's
    refusals (``ingest.refuse: {source: [header, ...]}``) applied. Read once per version of the file (callers must
    not modify what it returns)."""
    f = p.ingest.registry
    return _load(str(f), f.stat().st_mtime if f.exists() else 0.0, json.dumps(p.ingest.refuse, sort_keys=True))


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime: float, refuse_json: str) -> dict[str, dict]:
    from pathlib import Path

    reg = read_data_file(Path(path))
    refuse = json.loads(refuse_json)
    defaults = reg.get("defaults", {})
    by_type = reg.get("type_defaults", {})
    out = {}
    for sid, spec in reg["sources"].items():
        cols = {**spec.get("columns", {}), **spec.get("extra_columns", {})}
        cols = {h: {**defaults, **by_type.get(c.get("type"), {}), **c} for h, c in cols.items()}
        for h in refuse.get(sid, []):
            if h in cols:
                cols[h]["allowed"] = False
        out[sid] = {**spec, "id": sid, "columns": cols}
    return out


def role_source(p: Params, role: str) -> str:
    """The id of the source with this ``role`` in the registry (registry, attendance, survey, hearing)."""
    for sid, spec in load_registry(p).items():
        if spec.get("role") == role:
            return sid
    raise KeyError(f"登録簿に role: {role} のファイルがありません")


def registry_path(p: Params) -> str:
    """The file of the resident registry (the source whose ``role`` is ``registry``)."""
    return load_registry(p)[role_source(p, "registry")]["path"]
