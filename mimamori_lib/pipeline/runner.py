"""The runner: each year's notebooks in dependency order, side by side where they do not depend on each other
(``run.workers``), skipping steps that are up to date.

A step is up to date when its fingerprint — its code, the params it uses, the input files it reads and the outputs
of the steps before it (:mod:`.fingerprint`) — equals the one recorded when it last ran and its outputs exist.
``force`` re-runs everything; ``from_step`` re-runs that step and the ones after it. Each step's outcome, seconds and
peak memory go to the year's run manifest; log lines (the kernels' too) go to one log file per run.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import notices, paths
from ..errors import USER_ERROR_NAMES, InputError
from ..params import Params, run_years
from ..pseudonym import key_path, load_key
from . import manifest
from .fingerprint import fingerprint, output_hashes, outputs_present, step_inputs
from .kernel import (
    COMMON_IMPORTS,
    KernelPool,
    execute,
    import_runner_libraries,
    notebook_imports,
    papermill_module,
    to_html,
)
from .steps import STEPS, step

log = logging.getLogger(__name__)
LOG_ENV = "MIMAMORI_RUN_LOG"
FIRST = "first step"  # the kernel started at once for whichever step runs first


class StepFailed(RuntimeError):
    """A notebook failed; the message names the step and the cell. ``user_error``: the notebook stopped on a
    user's mistake (a params value, an unusable input), whose own message says what to fix."""

    def __init__(self, message: str, user_error: bool = False):
        super().__init__(message)
        self.user_error = user_error


@dataclass
class RunResult:
    """What a run did for one fiscal year."""

    fiscal_year: int
    steps: list[dict] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return round(sum(s["seconds"] for s in self.steps if s["outcome"] == "ran"), 2)


@dataclass(frozen=True)
class Node:
    fy: int
    name: str


@dataclass
class Plan:
    """What to run: the years' params, the steps of each, and hooks to run after a step (the demo's meeting)."""

    params: dict[int, Params]
    steps: dict[int, list[str]]
    hooks: dict[Node, Callable[[], None]] = field(default_factory=dict)
    force: bool = False
    from_step: str | None = None


def notebooks_for(p: Params) -> list[str]:
    """The run's notebooks that exist, in the params' order."""
    out = []
    for name in p.notebooks:
        if (paths.NOTEBOOKS / f"{name}.ipynb").exists():
            out.append(name)
        else:
            log.info("ノートブック %s.ipynb がありません (スキップ)", name)
    return out


def _dependencies(plan: Plan) -> dict[Node, set[Node]]:
    """Each step waits for the steps whose outputs it reads, in its year and in earlier years (a hook runs as part
    of its step, so whatever comes after the step also comes after the hook)."""
    years = sorted(plan.steps)
    nodes = {Node(fy, s) for fy in years for s in plan.steps[fy]}
    deps: dict[Node, set[Node]] = {}
    for fy in years:
        order = plan.steps[fy]
        for i, name in enumerate(order):
            s = STEPS.get(name)
            if s is None:  # a notebook without a declaration: after every earlier step of its year
                d = {Node(fy, a) for a in order[:i]}
            else:
                d = {Node(fy, a) for a in s.after} | {Node(y, e) for y in years if y < fy for e in s.earlier}
            deps[Node(fy, name)] = {x for x in d if x in nodes}
    return deps


def _heaviest_chains(edges: dict[Node, set[Node]], weight: Callable[[Node], float]) -> dict[Node, float]:
    """Each step's weight plus the heaviest chain of steps it leads to through ``edges`` (steps → the steps it waits
    for: how late it can start; steps → the steps that wait for it: how much work still hangs on it)."""
    out: dict[Node, float] = {}

    def chain(n: Node) -> float:
        if n not in out:
            out[n] = weight(n) + max((chain(m) for m in edges[n]), default=0.0)
        return out[n]

    for n in edges:
        chain(n)
    return out


def _waiting_for(deps: dict[Node, set[Node]]) -> dict[Node, set[Node]]:
    """For each step, the steps that wait for it."""
    after: dict[Node, set[Node]] = {n: set() for n in deps}
    for n, ds in deps.items():
        for d in ds:
            after[d].add(n)
    return after


class _Runner:
    def __init__(self, plan: Plan, workers: int, log_file: Path):
        self.plan, self.workers, self.log_file = plan, max(1, workers), log_file
        self.results = {fy: RunResult(fy) for fy in plan.steps}
        self.env = {LOG_ENV: str(log_file)}
        self.ran: set[Node] = set()  # steps that run (not skipped) in this run, so far
        self.writer = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimamori-report")
        self.reports: list[cf.Future] = []
        self._lock = threading.Lock()
        threading.Thread(target=import_runner_libraries, name="mimamori-imports", daemon=True).start()
        self.deps = _dependencies(plan)
        self._last: dict[int, dict] = {}
        self.pending = dict(self.deps)
        self.depth = _heaviest_chains(self.deps, lambda n: 1.0)  # the order steps can start in
        self.priority = _heaviest_chains(_waiting_for(self.deps), self._estimate)  # the critical path first
        self.heavy_alone = self._heavy_alone()
        warm = min(p.run.warm_kernels for p in plan.params.values())
        # forking a process that imported numpy and matplotlib is safe on Linux (macOS's system libraries are not)
        linux = sys.platform.startswith("linux")
        fork = COMMON_IMPORTS if linux and all(p.run.fork_kernels for p in plan.params.values()) else None
        self.kernels = KernelPool(min(warm, 1) if self.heavy_alone else warm, self.env, busy=self.workers,
                                  fork=fork)  # a big city: one kernel waits

    def _heavy_alone(self) -> bool:
        """Whether ingestion and 名寄せ must not overlap: a year's exports larger than ``run.heavy_parallel_mb``."""
        limit = min(p.run.heavy_parallel_mb for p in self.plan.params.values())
        sizes = [sum(f.stat().st_size for f in p.raw_year.rglob("*") if f.is_file()) if p.raw_year.is_dir() else 0
                 for p in self.plan.params.values()]
        alone = max(sizes, default=0) / 1e6 > limit
        if alone and self.workers > 1:
            log.info("エクスポートが大きい (最大 %.0f MB) ため、取込と名寄せは 1 つずつ実行します (run.heavy_parallel_mb: %d)",
                     max(sizes) / 1e6, limit)
        return alone

    def run(self, likely: bool = False) -> list[RunResult]:
        """Run the plan. ``likely``: something changed since the last run, so a kernel is started at once for
        whichever step runs first."""
        if likely:
            self.kernels.prepare(FIRST, COMMON_IMPORTS)
        try:
            self._loop(self.heavy_alone)
        finally:
            self.kernels.close()
            self.writer.shutdown(wait=True)
        for fut in self.reports:
            fut.result()  # a report that could not be written stops the run here, after the others
        for fy in sorted(self.results):
            p = self.plan.params[fy]
            ran = {s["step"] for s in self.results[fy].steps}
            for note in notices.read(p):
                if note["step"] in ran:
                    log.log(logging.WARNING if note["level"] == "warning" else logging.INFO, "[%s %s] %s", p.fy,
                            note["step"], note["message"])
        for fy, r in self.results.items():  # in the year's notebook order, whatever order they ran in
            r.steps.sort(key=lambda s, order=self.plan.steps[fy]: order.index(s["step"]))
        return [self.results[fy] for fy in sorted(self.results)]

    def _loop(self, heavy_alone: bool) -> None:
        """Start every step whose steps before it are done, up to ``workers`` at a time; stop at a failure."""
        pending, done = self.pending, set()
        failure: BaseException | None = None
        with cf.ThreadPoolExecutor(max_workers=self.workers) as pool:
            running: dict[cf.Future, Node] = {}
            while pending or running:
                if failure is None:
                    # the step with the longest chain of work still after it first: the run's critical path
                    ready = sorted((n for n, d in pending.items() if d <= done),
                                   key=lambda n: (-self.priority[n], n.fy, n.name))
                    for n in ready:
                        if len(running) >= self.workers:
                            break
                        if heavy_alone and step(n.name).heavy and any(step(r.name).heavy for r in running.values()):
                            continue
                        with self._lock:
                            del pending[n]
                        running[pool.submit(self._node, n)] = n
                    self._prepare_ahead()
                elif not running:
                    break
                if not running:  # pragma: no cover - a cycle would leave nodes that never become ready
                    raise RuntimeError(f"runner: steps that can never start: {sorted(pending, key=str)}")
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    n = running.pop(fut)
                    try:
                        fut.result()
                        done.add(n)
                    except BaseException as e:  # noqa: BLE001 - re-raised once the running steps are done
                        failure = failure or e
        if failure is not None:
            raise failure

    def _prepare_ahead(self) -> None:
        """Start kernels for the steps expected to start next (the nearest in the dependency graph first), once a
        step has run: a run where every step is up to date starts none."""
        if not self.ran or not self.kernels.size:
            return
        with self._lock:
            nearest = sorted(self.pending, key=lambda n: (self.depth[n], n.fy, n.name))
            ran = set(self.ran)
        expected = [n for n in nearest if self._expected(n, ran)]
        waiting = self.kernels.waiting()
        for n in expected[:self.kernels.size]:
            if n not in waiting:
                nb = paths.NOTEBOOKS / f"{n.name}.ipynb"
                self.kernels.prepare(n, (*COMMON_IMPORTS, *notebook_imports(nb), *step(n.name).preload))

    def _estimate(self, n: Node) -> float:
        """A step's seconds as last run (1 s when it has not run yet)."""
        if n.fy not in self._last:
            self._last[n.fy] = manifest.read(self.plan.params[n.fy]).get("steps", {})
        return float(self._last[n.fy].get(n.name, {}).get("seconds") or 1.0)

    def _kernel_for(self, n: Node):
        """The kernel started ahead for ``n`` (or the one started for the first step; None: ``n`` starts its own),
        then kernels for the steps expected next."""
        km = self.kernels.take(n) or self.kernels.take(FIRST)
        self._prepare_ahead()
        return km

    def _forced(self, n: Node) -> bool:
        return self.plan.force or (self.plan.from_step is not None and n.name >= self.plan.from_step)

    def _expected(self, n: Node, ran: set[Node]) -> bool:
        """Whether a pending step will probably run: it is forced, or it reads what a step that runs wrote (``ran``
        grows with the steps so expected, nearest first). A step whose own inputs changed is found when it starts."""
        s = STEPS.get(n.name)
        if s is None or self._forced(n):
            ran.add(n)
            return True
        p = self.plan.params[n.fy]
        reads = set(s.reads(p)) if s.reads else None
        for m in self.deps[n] & ran:
            wrote = {*STEPS[m.name].output_files(p), *STEPS[m.name].optional_files(p)} if m.name in STEPS else None
            if m.fy < n.fy or reads is None or wrote is None or reads & wrote:
                ran.add(n)
                return True
        return False

    def _node(self, n: Node) -> None:
        p = self.plan.params[n.fy]
        s = step(n.name)
        earlier = [y for y in run_years(p) if y < n.fy]
        inputs = step_inputs(p, s, earlier) if n.name in STEPS else None
        fp = fingerprint(inputs) if inputs is not None else None
        prev = manifest.read(p).get("steps", {}).get(n.name, {})
        forced = self._forced(n)
        html = p.reports / p.fy / f"{n.name}.html"
        if (fp is not None and not forced and prev.get("fingerprint") == fp and prev.get("outcome") in ("ran", "skipped")
                and outputs_present(p, s)):
            self.kernels.discard(n)
            log.info("[%s] %s: 最新のためスキップしました (入力・パラメータ・コードに変更なし)", p.fy, n.name)
            manifest.record_step(p, n.name, {**prev, "outcome": "skipped"})
            self.results[n.fy].steps.append({"step": n.name, "outcome": "skipped", "seconds": 0.0, "html": str(html)})
            self._publish(n, p, html)
        else:
            why = "再実行の指定" if forced else _changed(prev.get("inputs"), inputs, outputs_present(p, s)) if fp else ""
            self._execute(n, p, fp, inputs, html, why)
        hook = self.plan.hooks.get(n)
        if hook:
            hook()

    def _execute(self, n: Node, p: Params, fp: str | None, inputs: dict | None, html: Path, why: str) -> None:
        pm = papermill_module()
        log.info("[%s] %s を実行中%s ...", p.fy, n.name, f" ({why})" if why else "")
        notices.clear(p, n.name)
        executed = p.reports / p.fy / f"{n.name}.ipynb"
        started = time.time()
        try:
            with self._lock:
                self.ran.add(n)
            secs, peak = execute(paths.NOTEBOOKS / f"{n.name}.ipynb", executed,
                                 {"params_path": str(p.params_path), "overrides": p.overrides()}, self.env,
                                 tag=f"{n.fy}:{n.name}", kernel=lambda: self._kernel_for(n))
        except pm.PapermillExecutionError as e:
            manifest.record_step(p, n.name, {"fingerprint": None, "outcome": "failed", "error": f"{e.ename}: {e.evalue}"})
            if e.ename in USER_ERROR_NAMES:
                raise StepFailed(f"{p.fy} のステップ {n.name} を中止しました: {e.evalue}", user_error=True) from e
            raise StepFailed(f"{p.fy} のステップ {n.name} がセル {e.cell_index} (実行番号 {e.exec_count}) で失敗しました: "
                             f"{e.ename}: {e.evalue}\n途中までの結果: {executed}") from e
        s = step(n.name)
        manifest.record_step(p, n.name, {"fingerprint": fp, "outcome": "ran", "seconds": secs, "peak_mb": peak,
                                         "outputs": output_hashes(p, s), "inputs": inputs})
        self.results[n.fy].steps.append({"step": n.name, "outcome": "ran", "seconds": secs, "peak_mb": peak, "html": str(html),
                                         "started": started, "ended": time.time()})
        # the steps after it need its outputs, not its report: the HTML is written while they run
        self.reports.append(self.writer.submit(self._report, n, p, executed, html, secs, peak))

    def _report(self, n: Node, p: Params, executed: Path, html: Path, secs: float, peak: float | None) -> None:
        """A step's HTML report (then the public copy); a report that cannot be written fails the step."""
        try:
            to_html(executed, html)
        except BaseException as e:
            manifest.record_step(p, n.name, {"fingerprint": None, "outcome": "failed", "error": f"{type(e).__name__}: {e}"})
            raise
        log.info("[%s] %s 完了 (%.1f 秒%s) → %s", p.fy, n.name, secs, f", 最大メモリ {peak:,.0f} MB" if peak else "", html)
        self._publish(n, p, html)

    def _publish(self, n: Node, p: Params, html: Path) -> None:
        public = p.evaluation.public_report
        if public and n.name == p.evaluation.public_notebook and html.exists():
            dest = p.reports / "public" / public.format(fy=p.fiscal_year)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(html.read_text(encoding="utf-8"), encoding="utf-8")
            log.info("公開用レポート: %s", dest)


LABELS = {"code": "コード", "notebook": "ノートブック", "params": "パラメータ", "data_files": "登録簿・項目一覧", "raw": "入力ファイル",
          "key": "仮名化キー", "upstream": "前のステップの出力", "earlier": "前年度までの出力"}


def _changed(before: dict | None, now: dict, present: bool) -> str:
    """Why a step runs again, in words: what differs from its last run."""
    if not before:
        return "初回"
    parts = []
    for k, label in LABELS.items():
        a, b = before.get(k), now.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            keys = sorted(x for x in set(a) | set(b) if a.get(x) != b.get(x))
            parts.append(f"{label}: {'・'.join(map(str, keys[:3]))}{' ほか' if len(keys) > 3 else ''}")
        else:
            parts.append(label)
    if not parts and not present:
        parts.append("出力ファイルがないか、レポートがオフラインで開けない")
    return "変更あり: " + "、".join(parts) if parts else "前回の結果が使えない"


def _attach_log(log_file: Path) -> logging.Handler:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    h = logging.FileHandler(log_file, encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(h)
    return h


def run_plan(plan: Plan) -> list[RunResult]:
    """Run a plan (every year's steps, in dependency order); stop at the first failure with the step named."""
    first = plan.params[min(plan.params)]
    for p in plan.params.values():
        if not any(p.raw_year.glob("*/*.csv")):
            raise InputError(f"入力フォルダに CSV がありません: {p.raw_year} (各課のエクスポートを <部署>/<ファイル>.csv の形で"
                             "置いてください。デモは `mimamori report` が合成データを作ります)")
    log_file = first.reports / "logs" / f"run-{dt.datetime.now():%Y%m%d-%H%M%S-%f}.log"
    handler = _attach_log(log_file)
    runner = None
    try:
        runner = _Runner(plan, first.run.workers, log_file)
        runner.kernels.start_server()  # while the run checks what changed (stopped unused if nothing did)
        for p in plan.params.values():
            (p.reports / p.fy).mkdir(parents=True, exist_ok=True)
            load_key(key_path(p))  # made before any fingerprint, so that its first use is not a change
            check_permissions(p)
        since = time.time()
        changed = [manifest.start(p, log_file) for p in plan.params.values()]
        log.info("実行ログ: %s", log_file)
        results = runner.run(likely=plan.force or any(changed))
        for p in plan.params.values():
            manifest.finish(p, since)
        return results
    finally:
        if runner is not None:
            runner.kernels.close()
        logging.getLogger().removeHandler(handler)
        handler.close()


def check_permissions(p: Params) -> list[Path]:
    """Warn about (and, with ``privacy.fix_permissions``, fix) internal reports, restricted identity tables and the
    key left readable by other accounts."""
    from ..restricted import audit

    roots = [p.reports / "internal", *sorted(p.processed.parent.glob("fy*/restricted")), key_path(p)]
    return audit(roots, fix=p.privacy.fix_permissions)
