"""The runner: each year's notebooks in dependency order, side by side where they do not depend on each other
(``run.workers``), skipping steps that are up to date.

A step is up to date when it finished last time (its record is removed when it starts and written when every
output is complete), its fingerprint — its code, the params it uses, the files it reads in the exports folder and the
outputs of the steps before it (:mod:`.fingerprint`) — is the one recorded then, and every output still has the hash
recorded then. Otherwise it runs, and the log says why in one line. ``force`` re-runs everything; ``from_step``
re-runs that step and the ones after it. One run per out dir at a time (:mod:`.lock`); the key must be the one the
out dir's outputs were made with (:func:`mimamori_lib.catalogue.keys.ensure_key`).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..catalogue import datasets, notices
from ..catalogue.keys import ensure_key
from ..catalogue.registry import load_registry
from ..errors import USER_ERROR_NAMES, InputError
from ..params import Params, run_years
from ..privacy.pseudonym import KeyFileError, key_id, key_path
from ..privacy.restricted import atomic_file, audit, remove_temporary, work_folder
from ..rights import kaiji
from ..rights.stops import stopped
from . import forked, manifest
from .fingerprint import (
    code_hash,
    fingerprint,
    output_hashes,
    outputs_differ,
    own_inputs,
    report_path,
    step_inputs,
)
from .kernel import (
    KernelAhead,
    execute,
    imported_modules,
    load_libraries,
    split_seconds,
    start_ahead,
    step_imports,
    to_html,
    wait_stopped,
)
from .lock import run_lock
from .steps import STEPS, Step, step

log = logging.getLogger(__name__)
LOG_ENV = "MIMAMORI_RUN_LOG"


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
    wait: bool = False           # another run holds the out dir: wait for it instead of stopping


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
                d = {Node(fy, a) for a in s.after} | {Node(y, e) for y in years if y < fy for e in s.reads_of(y, years, fy)}
            deps[Node(fy, name)] = {x for x in d if x in nodes}
    return deps


def _work_after(deps: dict[Node, set[Node]], weight: Callable[[Node], float]) -> dict[Node, float]:
    """Each step's weight plus the heaviest chain of steps that wait for it: the steps on the run's critical path
    start first."""
    waiting: dict[Node, set[Node]] = {n: set() for n in deps}
    for n, ds in deps.items():
        for d in ds:
            waiting[d].add(n)
    out: dict[Node, float] = {}

    def chain(n: Node) -> float:
        if n not in out:
            out[n] = weight(n) + max((chain(m) for m in waiting[n]), default=0.0)
        return out[n]

    for n in deps:
        chain(n)
    return out


def server_modules(names: list[str]) -> list[str]:
    """The modules the fork server imports for these steps (their notebooks' imports and the libraries their stages
    import as they work), in order, each once."""
    return forked.preload(m for name in names
                          for m in imported_modules(step_imports(paths.NOTEBOOKS / f"{name}.ipynb", step(name).libraries)))


class _Runner:
    def __init__(self, plan: Plan, log_file: Path, key_ids: dict[int, str], work: Path):
        self.plan, self.key_ids, self.work = plan, key_ids, work
        first = plan.params[min(plan.params)]
        self.workers = max(1, first.run.workers)
        self.env = {LOG_ENV: str(log_file)}
        self.results = {fy: RunResult(fy) for fy in plan.steps}
        self.deps = _dependencies(plan)
        last = {fy: manifest.read(p).get("steps", {}) for fy, p in plan.params.items()}
        self.priority = _work_after(self.deps, lambda n: float(last[n.fy].get(n.name, {}).get("seconds") or 1.0))
        self.heavy_alone = self._heavy_alone()
        self.pending: dict[Node, set[Node]] = dict(self.deps)
        self.done: set[Node] = set()
        self.likely: dict[Node, int] = {}
        self.ahead: dict[Node, KernelAhead] = {}
        # kernels start one at a time, in the order the steps will need them, and one more than the workers may wait:
        # the first is ready sooner, and the last of a chain (50_evaluation's imports take 3 s) is ready in time
        self.ahead_limit = 1 if self.heavy_alone else self.workers + 1
        self.fork = first.run.fork_kernels and forked.usable()
        self.lock = threading.Lock()

    def _heavy_alone(self) -> bool:
        """Whether ingestion and 名寄せ must run alone (no other step beside them, their memory grows with the city):
        a year's exports larger than ``run.heavy_parallel_mb``."""
        limit = min(p.run.heavy_parallel_mb for p in self.plan.params.values())
        sizes = [sum(f.stat().st_size for f in p.raw_year.rglob("*") if f.is_file()) if p.raw_year.is_dir() else 0
                 for p in self.plan.params.values()]
        alone = max(sizes, default=0) / 1e6 > limit
        if alone and self.workers > 1:
            log.info("エクスポートが大きい (最大 %.0f MB) ため、取込と名寄せは他の処理と重ねずに実行します (run.heavy_parallel_mb: %d)",
                     max(sizes) / 1e6, limit)
        return alone

    def run(self) -> list[RunResult]:
        self._loop()
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

    def _loop(self) -> None:
        """Start every step whose steps before it are done, up to ``workers`` at a time; stop at a failure. Kernels
        started ahead and not used are stopped however the loop ends."""
        try:
            with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimamori-ahead") as self.starter:
                try:
                    self.likely = self._likely_to_run()
                    if self.fork and self.likely:
                        forked.start_server(self._server_modules(), code_hash.__wrapped__())  # not cached
                    self._start_ahead()
                    self._steps()
                finally:
                    with self.lock:
                        left, self.ahead = list(self.ahead.values()), {}
                    for k in left:
                        k.close()
        finally:
            wait_stopped()  # the kernels still starting were stopped as they became ready (the pool waited for them)
            # their clients' event loops are left in reference cycles: collected now, while their sockets are open (at
            # the interpreter's exit a loop's socket may be closed first, and the loop prints an error closing it)
            gc.collect()

    def _steps(self) -> None:
        pending, done = self.pending, self.done
        failure: BaseException | None = None
        with cf.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mimamori-step") as pool:
            running: dict[cf.Future, Node] = {}
            while pending or running:
                if failure is None:
                    ready = sorted((n for n, d in pending.items() if d <= done),
                                   key=lambda n: (-self.priority[n], n.fy, n.name))
                    for n in ready:
                        if len(running) >= self.workers:
                            break
                        if self.heavy_alone and running and (step(n.name).heavy
                                                             or any(step(r.name).heavy for r in running.values())):
                            continue  # a large city: ingestion and 名寄せ run with no other step beside them
                        with self.lock:
                            del pending[n]
                        running[pool.submit(self._node, n)] = n
                elif not running:
                    break
                if not running:  # pragma: no cover - a cycle would leave nodes that never become ready
                    raise RuntimeError(f"runner: steps that can never start: {sorted(pending, key=str)}")
                finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    n = running.pop(fut)
                    try:
                        fut.result()
                        with self.lock:
                            done.add(n)
                    except BaseException as e:  # noqa: BLE001 - re-raised once the running steps are done
                        failure = failure or e
                        with self.lock:
                            pending.clear()  # no step starts after a failure: no kernel is started for one
        if failure is not None:
            raise failure

    def _start_ahead(self) -> None:
        """Keep kernels started for the steps likely to run next (at most ``workers`` + 1 waiting, started one at a
        time in the order they will be needed; one for a large city), each with its libraries imported, so that a
        step starts on a ready kernel while the steps before it run. A run with nothing to do starts none."""
        with self.lock:
            waiting = sorted((n for n in self.pending if n in self.likely and n not in self.ahead),
                             key=lambda n: (self.likely[n], -self.priority[n], n.fy, n.name))
            for n in waiting[:max(self.ahead_limit - len(self.ahead), 0)]:
                self.ahead[n] = start_ahead(self.starter, paths.NOTEBOOKS / f"{n.name}.ipynb", self.env,
                                            f"{n.fy}:{n.name}", self.work, step(n.name).libraries,
                                            fork=self._fork_mode(n))

    def _fork_mode(self, n: Node) -> forked.ForkMode:
        """How a step's kernel starts: forked from the run's fork server (waiting for it, where the step must first
        wait for others) or, where kernels are not forked, as a new process."""
        if not self.fork:
            return None
        return "wait" if self.likely.get(n, 0) > 0 else "now"

    def _server_modules(self) -> list[str]:
        """What the fork server imports: the imports of the steps likely to run, in the order they will run."""
        first = {}
        for n, k in self.likely.items():
            first[n.name] = min(k, first.get(n.name, k))
        return server_modules(sorted(first, key=lambda name: (first[name], name)))

    def _likely_to_run(self) -> dict[Node, int]:
        """The steps likely to run, each with its place among them (how many of them it waits for, in a chain): the
        steps bound to run, and every step after one of them."""
        bound = {n for n in self.deps if n.name in STEPS and self._bound_to_run(n)}
        place: dict[Node, int] = {}

        def chain(n: Node) -> int | None:
            if n not in place:
                before = [c for c in (chain(d) for d in self.deps[n]) if c is not None]
                place[n] = (max(before) + 1 if before else 0) if before or n in bound else -1
            return None if place[n] < 0 else place[n]

        for n in self.deps:
            chain(n)
        return {n: k for n, k in place.items() if k >= 0 and n.name in STEPS}

    def _bound_to_run(self, n: Node) -> bool:
        """Whether a step will run whatever the steps before it do: forced, not finished last time, or its code,
        notebook, params or data files changed since."""
        if self._forced(n):
            return True
        p, s = self.plan.params[n.fy], step(n.name)
        prev = manifest.step_record(p, n.name)
        if not _finished(prev):
            return True
        before = prev.get("inputs") or {}
        return any(before.get(k) != v for k, v in own_inputs(p, s).items())

    def _kernel_ahead(self, n: Node) -> KernelAhead | None:
        with self.lock:
            return self.ahead.pop(n, None)

    def _forced(self, n: Node) -> bool:
        return self.plan.force or (self.plan.from_step is not None and n.name >= self.plan.from_step)

    def _node(self, n: Node) -> None:
        p = self.plan.params[n.fy]
        s = step(n.name)
        declared = n.name in STEPS
        inputs = self._inputs(n, p, s) if declared else None
        fp = fingerprint(inputs) if inputs is not None else None
        prev = manifest.step_record(p, n.name)
        why = self._why(n, p, inputs, fp, prev)
        html = report_path(p, s)
        if why is None:
            log.info("[%s] %s: 最新のためスキップしました (入力・パラメータ・コード・出力に変更なし)", p.fy, n.name)
            ahead = self._kernel_ahead(n)
            if ahead is not None:
                ahead.close()
                self._start_ahead()
            manifest.record_step(p, n.name, {**prev, "outcome": "skipped"})
            self.results[n.fy].steps.append({"step": n.name, "outcome": "skipped", "seconds": 0.0, "html": str(html)})
            self._publish(n, p, html)
        else:
            self._execute(n, p, fp, inputs, html, why)
        hook = self.plan.hooks.get(n)
        if hook:
            hook()
            self._after_hook(n, p, s, fp, html)

    def _inputs(self, n: Node, p: Params, s: Step) -> dict:
        """Everything the step reads, hashed (its fingerprint's parts)."""
        return step_inputs(p, s, [y for y in run_years(p) if y < n.fy], self.key_ids[n.fy])

    def _after_hook(self, n: Node, p: Params, s: Step, fp: str | None, html: Path) -> None:
        """A hook that wrote what its own step reads (the demo's schools answering the hearing forms after
        extraction) makes that step run again at once, before any step after it starts: once, not in a loop."""
        if fp is None:
            return
        inputs = self._inputs(n, p, s)
        if fingerprint(inputs) == fp:
            return
        steps = self.results[n.fy].steps  # other steps of the year may be appending to it: removed in place
        for entry in [x for x in steps if x["step"] == n.name]:
            steps.remove(entry)
        prev = manifest.step_record(p, n.name)
        self._execute(n, p, fingerprint(inputs), inputs, html, _changed(prev.get("inputs"), inputs))

    def _why(self, n: Node, p: Params, inputs: dict | None, fp: str | None, prev: dict) -> str | None:
        """Why a step must run, in words (``None``: it is up to date)."""
        if self._forced(n):
            return "再実行の指定"
        if fp is None:
            return "宣言のないノートブック"
        if not prev:
            return "初回、または前回の実行が完了していない"
        if not _finished(prev):
            return "前回の実行が完了していない"
        if prev["fingerprint"] != fp:
            return _changed(prev.get("inputs"), inputs)
        bad = outputs_differ(p, step(n.name), prev.get("outputs"))
        if bad:
            shown = "・".join(bad[:3]) + (f" ほか {len(bad) - 3} 件" if len(bad) > 3 else "")
            return f"出力が前回の記録と異なるか、ありません: {shown}"
        return None

    def _execute(self, n: Node, p: Params, fp: str | None, inputs: dict | None, html: Path, why: str) -> None:
        load_libraries()
        import papermill as pm

        log.info("[%s] %s を実行中 (%s) ...", p.fy, n.name, why)
        manifest.forget_step(p, n.name)
        notices.clear(p, n.name)
        executed = datasets.member_path(p, "executed_notebooks", step=n.name)
        started = time.time()
        ahead = self._kernel_ahead(n)
        self._start_ahead()
        try:
            secs, peak = execute(paths.NOTEBOOKS / f"{n.name}.ipynb", executed,
                                 {"params_path": str(p.params_path), "overrides": p.overrides()}, self.env,
                                 tag=f"{n.fy}:{n.name}", work=self.work, ahead=ahead, fork="now" if self.fork else None)
        except pm.PapermillExecutionError as e:
            manifest.record_step(p, n.name, {"fingerprint": None, "outcome": "failed", "error": f"{e.ename}: {e.evalue}"})
            if e.ename in USER_ERROR_NAMES:
                raise StepFailed(f"{p.fy} のステップ {n.name} を中止しました: {e.evalue}", user_error=True) from e
            raise StepFailed(f"{p.fy} のステップ {n.name} がセル {e.cell_index} (実行番号 {e.exec_count}) で失敗しました: "
                             f"{e.ename}: {e.evalue}\n途中までの結果: {executed}") from e
        t_report = time.perf_counter()
        try:
            to_html(executed, html)
        except BaseException as e:
            manifest.record_step(p, n.name, {"fingerprint": None, "outcome": "failed", "error": f"{type(e).__name__}: {e}"})
            raise
        s = step(n.name)
        timing = {**split_seconds(executed, secs), "report": round(time.perf_counter() - t_report, 2)}
        manifest.record_step(p, n.name, {"fingerprint": fp, "outcome": "ran", "seconds": secs, "peak_mb": peak,
                                         "timing": timing, "outputs": output_hashes(p, s), "inputs": inputs})
        log.info("[%s] %s 完了 (%.1f 秒%s) → %s", p.fy, n.name, secs, f", 最大メモリ {peak:,.0f} MB" if peak else "", html)
        self.results[n.fy].steps.append({"step": n.name, "outcome": "ran", "seconds": secs, "peak_mb": peak, "html": str(html),
                                         "started": started, "ended": time.time()})
        self._publish(n, p, html)

    def _publish(self, n: Node, p: Params, html: Path) -> None:
        public = p.evaluation.public_report
        if public and n.name == p.evaluation.public_notebook and html.exists():
            dest = p.reports / "public" / public.format(fy=p.fiscal_year)
            with atomic_file(dest) as tmp:
                tmp.write_text(html.read_text(encoding="utf-8"), encoding="utf-8")
            log.info("公開用レポート: %s", dest)


def _finished(prev: dict) -> bool:
    """Whether a step's record is of a run that finished (ran, or was found up to date) with its fingerprint."""
    return prev.get("outcome") in ("ran", "skipped") and bool(prev.get("fingerprint"))


LABELS = {"code": "コード", "notebook": "ノートブック", "params": "パラメータ", "data_files": "登録簿・項目一覧", "raw": "入力ファイル",
          "key": "仮名化キー", "upstream": "前のステップの出力", "earlier": "前年度までの出力", "state": "訂正・利用停止"}


def _changed(before: dict | None, now: dict | None) -> str:
    """Why a step runs again, in words: what differs from its last run."""
    if not before or not now:
        return "前回の記録がない"
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
    return "変更あり: " + "、".join(parts) if parts else "前回の結果が使えない"


def _attach_log(log_file: Path) -> logging.Handler:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    h = logging.FileHandler(log_file, encoding="utf-8")
    h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(h)
    return h


def _keys(plan: Plan) -> dict[int, str]:
    """Each year's key, checked against the out dir's outputs; one key for the whole run."""
    years = sorted(plan.params)
    ids = {fy: key_id(ensure_key(p, force=plan.force, years=years)) for fy, p in plan.params.items()}
    if len(set(ids.values())) > 1:
        files = "・".join(sorted({str(key_path(p)) for p in plan.params.values()}))
        raise KeyFileError(f"年度によって別の仮名化キーが指定されています ({files})。すべての年度を同じキーで実行してください")
    return ids


def run_plan(plan: Plan) -> list[RunResult]:
    """Run a plan (every year's steps, in dependency order); stop at the first failure with the step named."""
    first = plan.params[min(plan.params)]
    for p in plan.params.values():
        load_registry(p)  # a mistake in the registry stops the run here, with one line, before any step
        if not any(p.raw_year.glob("*/*.csv")):
            raise InputError(f"入力フォルダに CSV がありません: {p.raw_year} (各課のエクスポートを <部署>/<ファイル>.csv の形で"
                             "置いてください。デモは `mimamori report` が合成データを作ります)")
    root = first.processed.parent
    with run_lock(datasets.path(first, "run_lock"), wait=plan.wait):
        key_ids = _keys(plan)
        for d in {root, first.reports}:
            n = remove_temporary(d)
            if n:
                log.info("途中で止まった実行が残した一時ファイル %d 件を削除しました", n)
        n = kaiji.remove_for_stopped(first, stopped(first).atena)  # before any step: a stopped child is in no file
        if n:
            log.info("利用停止になったこどもの開示の資料 %d 件を削除しました", n)
        log_file = datasets.member_path(first, "run_logs", stamp=f"{dt.datetime.now():%Y%m%d-%H%M%S-%f}")
        handler = _attach_log(log_file)
        try:
            with work_folder(root, root) as work:  # the kernels' connection files and sockets
                for p in plan.params.values():
                    (p.reports / p.fy).mkdir(parents=True, exist_ok=True)
                    check_permissions(p)
                    manifest.start(p, log_file)
                log.info("実行ログ: %s", log_file)
                results = _Runner(plan, log_file, key_ids, work).run()
                for p in plan.params.values():
                    manifest.finish(p)
                return results
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()


def check_permissions(p: Params) -> list[Path]:
    """Warn about (and, with ``privacy.fix_permissions``, fix) the processed tables, internal reports and the key
    left readable by other accounts."""
    roots = [p.reports / "internal", p.processed.parent, key_path(p)]
    return audit(roots, fix=p.privacy.fix_permissions)
