"""Fingerprints: what a step read (its code, the params it uses, input files, upstream outputs), hashed. A step
whose fingerprint is unchanged and whose outputs exist is up to date."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from .. import paths
from ..params import Params, year_params
from .steps import STEPS, Step

ABSENT = "absent"


def file_hash(f: Path) -> str:
    """SHA-256 of a file's content (``absent`` when there is no such file)."""
    if not f.is_file():
        return ABSENT
    h = hashlib.sha256()
    with f.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.cache
def code_hash() -> str:
    """One hash of the library's code and templates (any change re-runs every step)."""
    h = hashlib.sha256()
    for f in sorted(paths.PACKAGE.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".j2", ".json", ".yaml", ".csv") and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(paths.PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def key_fingerprint(p: Params) -> str:
    """A hash of the pseudonym key (never the key): pseudonyms and 抽出ID change with it."""
    from ..pseudonym import key_path

    f = key_path(p)
    return hashlib.sha256(b"mimamori-key:" + f.read_bytes()).hexdigest() if f.is_file() else ABSENT


def _dotted(p: Params, name: str):
    v = p
    for part in name.split("."):
        v = getattr(v, part)
    return v


def params_subset(p: Params, s: Step) -> dict:
    """The params a step reads (a section, or one value of it: ``extraction.top_basic``), as JSON-ready values."""
    dump = p.model_dump(mode="json")
    out = {}
    for k in s.params:
        v = dump
        for part in k.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is not None or k in dump:
            out[k] = v
    return out


def step_inputs(p: Params, s: Step, earlier_years: list[int]) -> dict:
    """Everything a step reads, hashed."""
    out = {
        "step": s.name, "code": code_hash(), "notebook": file_hash(paths.NOTEBOOKS / f"{s.name}.ipynb"),
        "params": params_subset(p, s), "data_files": {d: file_hash(Path(_dotted(p, d))) for d in s.data_files},
        "raw": {f: file_hash(p.raw_year / f) for f in s.raw_files(p)},
    }
    if s.uses_key:
        out["key"] = key_fingerprint(p)
    reads = s.reads(p) if s.reads else [f for a in s.after for f in (*STEPS[a].output_files(p), *STEPS[a].optional_files(p))]
    out["upstream"] = {f: file_hash(p.processed / f) for f in sorted(set(reads))}
    if s.earlier:
        out["earlier"] = {}
        for fy in earlier_years:
            q = year_params(p, fy)
            files = sorted({f for a in s.earlier for f in (*STEPS[a].output_files(q), *STEPS[a].optional_files(q))})
            out["earlier"][str(fy)] = {f: file_hash(q.processed / f) for f in files}
    return out


def fingerprint(inputs: dict) -> str:
    """One hash of a step's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def outputs_present(p: Params, s: Step) -> bool:
    """The step's required outputs exist (optional ones may be absent) and its report works offline (one written by
    an older version that loads from the internet is made again, not kept or published)."""
    from ..offline import works_offline

    need = [p.processed / f for f in s.output_files(p)] + [p.internal / f for f in s.internal]
    return all(f.exists() for f in need) and works_offline(p.reports / p.fy / f"{s.name}.html")


def output_hashes(p: Params, s: Step) -> dict[str, str]:
    """Hashes of what a step wrote (recorded in the run manifest)."""
    return {f: file_hash(p.processed / f) for f in (*s.output_files(p), *s.optional_files(p))}
