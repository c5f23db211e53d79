"""The linear system a publication reveals, and its audit.

Everything a public report shows about a set of counts is written as a system over variables: each table cell
(and each hidden quantity worth protecting, such as the difference of two nested counts) is a variable; published
cells fix their variable; rows, columns, margins and nesting give equalities and inequalities; hidden cells are
integers of at least 1 (zeros are always published, never hidden, so an attacker may assume that much).
For every sensitive variable that is not published, :func:`intervals` finds the smallest and largest integer values
consistent with everything published (mixed-integer programs, scipy's HiGHS): the whole system at once, not one
row or column at a time. A publication passes when each such interval is at least ``protection`` wide, and no
published statistic (a p-value, a percentage, a difference, a confidence interval) is computed from a hidden cell.
This is how statistical offices audit tables (τ-ARGUS, sdcTable); here it is the test oracle and the guard that
:func:`~mimamori_lib.disclosure.show` applies to every public table.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import sys
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import numpy as np

Key = Hashable


@dataclass
class Derived:
    """A published statistic computed from cells: its name, the cells it uses, and (optionally) how it is computed
    and what was shown, so that the audit can test whether it would pin a hidden cell."""

    name: str
    inputs: list[Key]
    compute: Callable[[dict], float] | None = None
    shown: float | None = None
    decimals: int = 3


@dataclass
class System:
    """What a publication reveals about a set of counts."""

    values: dict[Key, int]                                   # the true value of every variable
    published: set[Key]                                      # variables whose value the publication shows
    equalities: list[dict[Key, float]] = field(default_factory=list)    # Σ coef·var = 0
    inequalities: list[dict[Key, float]] = field(default_factory=list)  # Σ coef·var ≤ 0
    sensitive: set[Key] = field(default_factory=set)         # variables that must not be pinned down
    cells: set[Key] = field(default_factory=set)             # table cells (hidden ones are ≥ 1); others are ≥ 0
    derived: list[Derived] = field(default_factory=list)     # published statistics
    cost: dict[Key, float] = field(default_factory=dict)     # what hiding a cell costs (default: its value)
    known: dict[Key, tuple[float, float]] = field(default_factory=dict)  # intervals found by secondary suppression

    @property
    def hidden(self) -> set[Key]:
        return set(self.values) - self.published

    def merge(self, other: System) -> System:
        """Two publications seen together (shared keys are the same quantity)."""
        return System({**self.values, **other.values}, self.published | other.published,
                      self.equalities + other.equalities, self.inequalities + other.inequalities,
                      self.sensitive | other.sensitive, self.cells | other.cells, self.derived + other.derived,
                      {**self.cost, **other.cost})


def _lower(system: System, k: Key) -> int:
    return 1 if k in system.cells else 0


@functools.cache
def _highs():
    """One HiGHS instance per process (each model replaces the last), created without its banner on stdout."""
    import highspy

    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.silent()
    return h


class _Solver:
    """One linear system, solved for many objectives: the model is built once in HiGHS (highspy) and only the
    objective changes between solves (scipy's linprog rebuilds it every time, ten times slower here). The LP optimum
    is exact when integral, as it always is for tables with margins; otherwise a mixed-integer program decides."""

    def __init__(self, A: np.ndarray, lo: np.ndarray, hi: np.ndarray, lower: np.ndarray):
        import highspy
        import scipy.sparse as sp

        self.A, self.lo, self.hi, self.lower = A, lo, hi, lower
        self.n = A.shape[1]
        h = _highs()
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.n, A.shape[0]
        lp.col_cost_ = np.zeros(self.n)
        lp.col_lower_ = lower.astype(float)
        lp.col_upper_ = np.full(self.n, inf)
        lp.row_lower_ = np.where(np.isfinite(lo), lo, -inf)
        lp.row_upper_ = np.where(np.isfinite(hi), hi, inf)
        m = sp.csc_matrix(A)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = m.indptr, m.indices, m.data
        h.passModel(lp)
        self.h, self.hs = h, highspy
        self.cols = np.arange(self.n, dtype=np.int32)

    def optimum(self, i: int, sign: float) -> float:
        """min (sign · x_i) over the integer points: x_i's lower (sign +1) or upper (sign −1) bound."""
        c = np.zeros(self.n)
        c[i] = sign
        self.h.changeColsCost(self.n, self.cols, c)
        self.h.run()
        status = self.h.getModelStatus()
        ms = self.hs.HighsModelStatus
        if status in (ms.kUnbounded, ms.kUnboundedOrInfeasible):
            return math.inf
        if status == ms.kOptimal:
            x = np.asarray(self.h.getSolution().col_value)
            if np.allclose(x, np.round(x), atol=1e-7):
                return round(float(x[i]))
        return self._milp(c, i)

    def _milp(self, c: np.ndarray, i: int) -> float:
        from scipy.optimize import Bounds, LinearConstraint, milp

        m = milp(c, integrality=np.ones(self.n), bounds=Bounds(self.lower, np.full(self.n, np.inf)),
                 constraints=[LinearConstraint(self.A, self.lo, self.hi)])
        if m.status == 0:
            return round(float(m.x[i]))
        if m.status in (3, 4):
            return math.inf
        raise RuntimeError(f"disclosure audit: the system has no solution ({m.message})")  # pragma: no cover


def intervals(system: System, keys: list[Key] | None = None) -> dict[Key, tuple[float, float]]:
    """The smallest and largest integer value of each hidden variable (``keys``: default, the sensitive hidden ones)
    consistent with the published values and the constraints. ``inf`` where nothing bounds it above."""
    hidden = sorted(system.hidden, key=str)
    want = [k for k in (keys if keys is not None else sorted(system.sensitive & system.hidden, key=str)) if k in system.hidden]
    if not want:
        return {}
    index = {k: i for i, k in enumerate(hidden)}
    rows, lo, hi = [], [], []
    for eqs, is_eq in ((system.equalities, True), (system.inequalities, False)):
        for con in eqs:
            coef = np.zeros(len(hidden))
            const = 0.0
            for k, c in con.items():
                if k in index:
                    coef[index[k]] += c
                else:
                    const += c * system.values[k]
            if not coef.any():
                continue
            rows.append(coef)
            lo.append(-const if is_eq else -np.inf)
            hi.append(-const)
    lower = np.array([_lower(system, k) for k in hidden], dtype=float)
    A = np.array(rows) if rows else None
    involved = A.any(axis=0) if A is not None else np.zeros(len(hidden), dtype=bool)
    solver = _Solver(A, np.array(lo), np.array(hi), lower) if A is not None else None
    out = {}
    for k in want:
        i = index[k]
        if not involved[i]:
            out[k] = (float(lower[i]), math.inf)
            continue
        out[k] = (solver.optimum(i, 1.0), solver.optimum(i, -1.0))
    return out


def _candidates(system: System, d: Derived, bounds: dict[Key, tuple[float, float]], cap: int = 20000) -> dict[Key, set[int]]:
    """Values of the hidden inputs of a published statistic that reproduce what was shown (integer enumeration
    within their intervals; ``cap`` combinations at most)."""
    hidden = [k for k in d.inputs if k not in system.published]
    ranges = []
    for k in hidden:
        lo, hi = bounds[k]
        hi = min(hi, lo + 200)
        ranges.append(range(int(lo), int(hi) + 1))
    out: dict[Key, set[int]] = {k: set() for k in hidden}
    for n, combo in enumerate(itertools.product(*ranges)):
        if n >= cap:
            break
        vals = {**{k: system.values[k] for k in d.inputs if k in system.published}, **dict(zip(hidden, combo, strict=True))}
        try:
            v = d.compute(vals)
        except (ValueError, ZeroDivisionError):
            continue
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and round(v, d.decimals) == round(d.shown, d.decimals):
            for k, x in zip(hidden, combo, strict=True):
                out[k].add(x)
    return out


@dataclass
class AuditResult:
    """Per sensitive hidden variable: its interval and whether it is protected; leaks through statistics."""

    intervals: dict[Key, tuple[float, float]]
    protection: int
    failing: list[Key]
    derived_leaks: list[str]

    @property
    def passed(self) -> bool:
        return not self.failing and not self.derived_leaks

    def record(self) -> dict:
        """What the audit found, for the run's record: each protected variable's interval (anyone holding the
        publication could compute these; the true values are not in it)."""
        return {"passed": self.passed, "protection": self.protection, "failing": [str(k) for k in self.failing],
                "derived_leaks": self.derived_leaks,
                "intervals": {str(k): [lo, None if math.isinf(hi) else hi] for k, (lo, hi) in self.intervals.items()}}

    def table(self):
        """A readable table of the intervals (internal use: true values are not shown)."""
        import pandas as pd

        return pd.DataFrame([{"cell": str(k), "min": lo, "max": hi, "width": hi - lo, "protected": hi - lo >= self.protection}
                             for k, (lo, hi) in self.intervals.items()])


def audit(system: System, protection: int, fresh: bool = False) -> AuditResult:
    """Is every sensitive hidden variable's interval at least ``protection`` wide, and is no published statistic
    computed from a hidden cell (or, where it is, does it leave the cell's interval that wide)? Intervals that
    secondary suppression already found wide enough are reused (hiding more only widens them) unless ``fresh``."""
    reuse = {} if fresh else {k: v for k, v in system.known.items() if v[1] - v[0] >= protection and k in system.hidden}
    rest = [k for k in sorted(system.sensitive & system.hidden, key=str) if k not in reuse]
    iv = {**reuse, **intervals(system, rest)}
    failing = [k for k, (lo, hi) in iv.items() if hi - lo < protection]
    leaks = []
    for d in system.derived:
        hidden = [k for k in d.inputs if k not in system.published]
        if not hidden:
            continue
        if d.compute is None or d.shown is None:
            leaks.append(f"{d.name}: 秘匿したセル {hidden} から計算した値を公表しています")
            continue
        b = intervals(system, hidden)
        for k, vals in _candidates(system, d, b).items():
            if k in system.sensitive and vals and max(vals) - min(vals) < protection:
                leaks.append(f"{d.name}: 秘匿したセル {k} が {sorted(vals)} に絞り込めます")
    return AuditResult(iv, protection, failing, leaks)


def _neighbours(system: System, k: Key, direct: bool) -> list[Key]:
    """Published non-zero cells that share a constraint with ``k``: directly (``direct``), or through hidden
    variables."""
    cons = system.equalities + system.inequalities
    seen, frontier, found = {k}, [k], []
    while frontier:
        nxt = []
        for v in frontier:
            for con in cons:
                if v in con:
                    for u in con:
                        if u in seen:
                            continue
                        seen.add(u)
                        if u in system.published:
                            if u in system.cells and system.values[u] > 0:
                                found.append(u)
                        elif not direct:
                            nxt.append(u)
        frontier = nxt
    return found


def _choose(s: System, k: Key, protection: int, tries: int = 8) -> Key:
    """The cell to hide for ``k``: among the cells that share a constraint with it (directly first), the cheapest one
    that alone makes its interval wide enough; else the one that widens it most."""
    cand: list[Key] = []
    for direct in (True, False):
        cand = sorted(_neighbours(s, k, direct), key=lambda u: (s.cost.get(u, s.values[u]), str(u)))
        if cand:
            break
    if not cand:
        cand = sorted((u for u in s.published if u in s.cells and s.values[u] > 0),
                      key=lambda u: (s.cost.get(u, s.values[u]), str(u)))
    if not cand:  # pragma: no cover - nothing left to hide: the interval cannot be widened
        raise RuntimeError(f"disclosure: {k} cannot be protected")
    best, best_width = cand[0], -1.0
    for u in cand[:tries]:
        s.published.discard(u)
        lo, hi = intervals(s, [k])[k]
        s.published.add(u)
        if hi - lo >= protection:
            return u
        if hi - lo > best_width:
            best, best_width = u, hi - lo
    return best


def protect_system(system: System, protection: int, max_rounds: int = 2000) -> System:
    """Hide more published cells until the audit passes. For each sensitive variable whose interval is too narrow,
    the cheapest cell sharing a constraint with it that makes the interval wide enough is hidden (else the one that
    widens it most, and again). Zeros are never hidden. Hiding a cell only widens intervals, so a variable once
    protected stays protected and only the failing ones are checked again."""
    s = System(dict(system.values), set(system.published), system.equalities, system.inequalities, system.sensitive,
               system.cells, system.derived, system.cost)
    todo = sorted(s.sensitive & s.hidden, key=str)
    s.known = {}
    for _ in range(max_rounds):
        iv = intervals(s, todo)
        s.known.update(iv)
        todo = [k for k in todo if iv[k][1] - iv[k][0] < protection]
        if not todo:
            return s
        s.published.discard(_choose(s, todo[0], protection))
    raise RuntimeError("disclosure: secondary suppression did not converge")  # pragma: no cover


def _without_leaky_stats(s: System) -> System:
    """The system as published once statistics computed from hidden cells are withheld (the derived rule)."""
    return System(s.values, s.published, s.equalities, s.inequalities, s.sensitive, s.cells,
                  [d for d in s.derived if all(k in s.published for k in d.inputs)], s.cost, s.known)


def visible(system: System, d: Derived) -> bool:
    """A statistic may be published only if every cell it is computed from is published."""
    return all(k in system.published for k in d.inputs)
