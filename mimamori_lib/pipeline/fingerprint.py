"""Fingerprints: what a step read (its code, the params it uses, the files it read in the exports folder, the
outputs of the steps before it), hashed; and the hashes of what it wrote. A step is up to date when its
fingerprint is the one recorded when it last finished and every output still has the hash recorded then."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from .. import paths
from ..catalogue import datasets
from ..params import Params, year_params
from ..params.loading import chain
from .steps import STEPS, Step

ABSENT = "absent"


def file_hash(f: Path) -> str:
    """SHA-256 of a file's content (a folder: of its files' names and contents; ``absent`` when there is nothing)."""
    if f.is_dir():
        h = hashlib.sha256()
        for x in sorted(f.rglob("*")):
            if x.is_file():
                h.update(str(x.relative_to(f)).encode() + b"\0" + _content_hash(x).encode())
        return h.hexdigest()
    return _content_hash(f) if f.is_file() else ABSENT


def _content_hash(f: Path) -> str:
    st = f.stat()
    return _cached_hash(str(f), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


@functools.lru_cache(maxsize=4096)
def _cached_hash(path: str, inode: int, mtime_ns: int, ctime_ns: int, size: int) -> str:
    """A file's hash, computed once per version of the file within a process (a run hashes the same upstream
    outputs for several steps). Any write changes the change time, which no copy can set back."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.cache
def code_hash() -> str:
    """One hash of the library's code and templates (any change re-runs every step)."""
    h = hashlib.sha256()
    for f in sorted(paths.PACKAGE.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".j2", ".json", ".yaml", ".csv", ".tpl") and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(paths.PACKAGE)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _dotted(p: Params, name: str):
    v = p
    for part in name.split("."):
        v = getattr(v, part)
    return v


# params that name files: their content is what a step reads (``data_files``, the years' own outputs), not where
# they lie — a city folder moved or copied re-runs nothing
LOCATIONS = ("ingest.registry", "ingest.gaiji", "indicators.catalogue", "evaluation.narrative")


def params_subset(p: Params, s: Step) -> dict:
    """The params a step reads (a section, or one value of it: ``extraction.top_basic``), as JSON-ready values; a
    file's place is left out (its content is hashed), and the run's years count by their numbers."""
    dump = p.model_dump(mode="json")
    for k in LOCATIONS:
        section, name = k.split(".")
        if isinstance(dump.get(section), dict) and name in dump[section]:
            dump[section][name] = "(内容で照合)" if dump[section][name] is not None else None
    dump["years"] = sorted(p.years)
    out = {}
    for k in s.params:
        v = dump
        for part in k.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is not None or k in dump:
            out[k] = v
    return out


def data_file_hash(p: Params, name: str) -> str:
    """The hash of a data file a param names (``absent`` for none): the registry with every file it extends."""
    v = _dotted(p, name)
    if v is None:
        return ABSENT
    if Path(v).suffix in (".yaml", ".yml"):  # a registry, catalogue or narrative with every file it extends
        files = chain(Path(v)) or [Path(v)]
        return hashlib.sha256("".join(file_hash(f) for f in files).encode()).hexdigest()
    return file_hash(Path(v))


def _relative(p: Params, f: Path) -> str:
    try:
        return str(f.relative_to(p.raw_year))
    except ValueError:
        return str(f)


def own_inputs(p: Params, s: Step) -> dict:
    """The part of a step's inputs that no other step writes (its code, notebook, params and data files): quick to
    hash, and when it differs from the last run's the step is bound to run."""
    return {"step": s.name, "code": code_hash(), "notebook": file_hash(paths.NOTEBOOKS / f"{s.name}.ipynb"),
            "params": params_subset(p, s), "data_files": {d: data_file_hash(p, d) for d in s.data_files}}


def step_inputs(p: Params, s: Step, earlier_years: list[int], key_id: str | None = None) -> dict:
    """Everything a step reads, hashed."""
    out = {**own_inputs(p, s), "raw": {_relative(p, f): file_hash(f) for f in s.raw_files(p)}}
    if s.uses_key:
        out["key"] = key_id or ABSENT
    if s.state is not None:
        out["state"] = s.state(p)
    out["upstream"] = {d.file: file_hash(d.path(p)) for d in s.upstream(p)}
    if s.earlier or s.older:
        out["earlier"] = {}
        for fy in earlier_years:
            q = year_params(p, fy)
            files = {d.file: d.path(q) for a in s.reads_of(fy, [*earlier_years, p.fiscal_year], p.fiscal_year)
                     for d in STEPS[a].outputs(q) if d.place == "processed" and d.downstream}
            out["earlier"][str(fy)] = {name: file_hash(f) for name, f in sorted(files.items())}
    return out


def fingerprint(inputs: dict) -> str:
    """One hash of a step's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def report_path(p: Params, s: Step) -> Path:
    """The step's HTML report."""
    return datasets.member_path(p, "step_reports", step=s.name)


def output_hashes(p: Params, s: Step) -> dict[str, str]:
    """Hashes of what a step wrote — its datasets and its report (recorded when it finishes)."""
    out = {d.name: file_hash(d.path(p)) for d in s.outputs(p)}
    out["report"] = file_hash(report_path(p, s))
    return out


def outputs_differ(p: Params, s: Step, recorded: dict[str, str] | None) -> list[str]:
    """What is no longer as the step left it: an output missing, replaced or changed since it was recorded. Empty
    when all is as recorded. (A report with its recorded hash is the one this code wrote, checked to work offline
    when it was written: the fingerprint holds the code.)"""
    if not recorded:
        return ["(記録なし)"]
    now = output_hashes(p, s)
    return [datasets.dataset(n).file if n != "report" else report_path(p, s).name
            for n in sorted(set(now) | set(recorded)) if now.get(n) != recorded.get(n)]
