"""Running the notebooks: each year's steps in dependency order, side by side where independent, skipping steps
that are up to date, with a run manifest and a log file.

Modules: :mod:`.steps` (what each step reads and writes), :mod:`.fingerprint` (hashes of a step's inputs and
outputs), :mod:`.manifest` (the run manifest), :mod:`.kernel` (one notebook on a fresh kernel, HTML), :mod:`.lock`
(one run per out dir), :mod:`.runner`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import paths
from ..catalogue import datasets
from ..errors import UserError
from ..params import Params, load_params, run_years, year_params
from ..records.retention import screening_purged
from .kernel import to_html
from .runner import Node, Plan, RunResult, StepFailed, check_permissions, notebooks_for, run_plan

log = logging.getLogger(__name__)


def _select(names: list[str], start: str | None, stop: str | None) -> list[str]:
    return [n for n in names if (start is None or n >= start) and (stop is None or n < stop)]


def run_year(params_path: str | Path, raw_dir: str | None = None, out_dir: str | None = None, start: str | None = None,
             stop: str | None = None, force: bool = False, from_step: str | None = None, wait: bool = False) -> RunResult:
    """Run the notebooks of one fiscal year (from ``start``, before ``stop``), skipping those up to date; stop at the
    first failure with the step and cell named."""
    p = _load(params_path, raw_dir, out_dir)
    if p.fiscal_year in screening_purged(p):
        raise UserError(f"FY{p.fiscal_year} は保存期間を過ぎて削除済みです (mimamori purge)。削除した年度は実行しません")
    return run_plan(Plan({p.fiscal_year: p}, {p.fiscal_year: _select(notebooks_for(p), start, stop)}, force=force,
                         from_step=from_step, wait=wait))[0]


def run_all(base: Params, hooks: dict | None = None, force: bool = False, from_step: str | None = None,
            wait: bool = False) -> list[RunResult]:
    """Every year of the run (``years:``), each year's steps after the earlier years' outputs they read."""
    ps = {fy: year_params(base, fy) for fy in live_years(base)}
    return run_plan(Plan(ps, {fy: notebooks_for(p) for fy, p in ps.items()}, hooks or {}, force, from_step, wait))


def live_years(base: Params, say: bool = True) -> list[int]:
    """The run's years but those purged (their screening data passed its retention: no run makes it again)."""
    purged = set(screening_purged(base))
    if say and purged & set(run_years(base)):
        log.info("%s は保存期間を過ぎて削除済みのため実行しません (mimamori purge; 記録: %s)",
                 "・".join(f"FY{y}" for y in sorted(purged & set(run_years(base)))), datasets.path(base, "purge_log"))
    return [fy for fy in run_years(base) if fy not in purged]


def _load(params_path: str | Path, raw_dir: str | None, out_dir: str | None) -> Params:
    overrides = {"raw_dir": str(paths.resolve(raw_dir, paths.RAW)) if raw_dir else None,
                 "out_dir": str(paths.resolve(out_dir, paths.ROOT)) if out_dir else None}
    return load_params(params_path, overrides)


__all__ = ["Node", "live_years", "Plan", "RunResult", "StepFailed", "check_permissions", "notebooks_for", "run_all", "run_plan",
           "run_year", "to_html"]
