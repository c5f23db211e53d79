"""Notices: what a step wants the person running the pipeline to see at the end of the run (a source that
shrank, a decisions file that cannot be used, a meeting not held yet, records waiting for review).

Notebooks run in their own kernels, so a step writes its notices to ``<processed>/<fy>/notices.json``; the runner
clears a step's notices before running it and prints every notice of the year when the year is done. Notices hold
no identities (counts, file names, columns).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..params import Params
from ..privacy.restricted import private_file
from . import datasets

log = logging.getLogger(__name__)


def _file(p: Params) -> Path:
    return datasets.path(p, "notices")


def read(p: Params) -> list[dict]:
    """Every notice of the year, in the order of the steps (each step's in the order it added them)."""
    f = _file(p)
    if not f.exists():
        return []
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        return []


def _write(p: Params, items: list[dict]) -> None:
    with private_file(_file(p), p.processed.parent) as f:
        f.write_text(json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8")


def add(p: Params, step: str, message: str, level: str = "warning") -> None:
    """Record a notice for the end of the run (and log it now)."""
    items = [n for n in read(p) if not (n["step"] == step and n["message"] == message)]
    items.append({"step": step, "level": level, "message": message})
    # by step, not by when each finished: steps of a year run side by side, and the same run writes the same file
    _write(p, sorted(items, key=lambda n: n["step"]))
    log.log(logging.WARNING if level == "warning" else logging.INFO, "%s", message)


def clear(p: Params, step: str) -> None:
    """Forget a step's notices (it is about to run again)."""
    items = read(p)
    kept = [n for n in items if n["step"] != step]
    if len(kept) != len(items):
        _write(p, kept)
