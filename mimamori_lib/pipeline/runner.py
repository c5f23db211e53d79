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
from .kernel import execute, to_html
from .steps import STEPS, step

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


class _Runner:
    def __init__(self, plan: Plan, workers: int, log_file: Path):
        self.plan, self.workers, self.log_file = plan, max(1, workers), log_file
        self.results = {fy: RunResult(fy) for fy in plan.steps}

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

    def run(self) -> list[RunResult]:
        deps = _dependencies(self.plan)
        heavy_alone = self._heavy_alone()
        done: set[Node] = set()
        pending = dict(deps)
        failure: BaseException | None = None
        with cf.ThreadPoolExecutor(max_workers=self.workers) as pool:
            running: dict[cf.Future, Node] = {}
            while pending or running:
                if failure is None:
                    ready = sorted((n for n, d in pending.items() if d <= done), key=lambda n: (n.fy, n.name))
                    for n in ready:
                        if len(running) >= self.workers:
                            break
                        if heavy_alone and step(n.name).heavy and any(step(r.name).heavy for r in running.values()):
                            continue
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
                        done.add(n)
                    except BaseException as e:  # noqa: BLE001 - re-raised once the running steps are done
                        failure = failure or e
        if failure is not None:
            raise failure
        for fy in sorted(self.results):
            p = self.plan.params[fy]
            ran = {s["step"] for s in self.results[fy].steps}
            for note in notices.read(p):
                if note["step"] in ran:
                    log.log(logging.WARNING if note["level"] == "warning" else logging.INFO, "[%s %s] %s", p.fy,
                            note["step"], note["message"])
        return [self.results[fy] for fy in sorted(self.results)]

    def _node(self, n: Node) -> None:
        p = self.plan.params[n.fy]
        s = step(n.name)
        earlier = [y for y in run_years(p) if y < n.fy]
        inputs = step_inputs(p, s, earlier) if n.name in STEPS else None
        fp = fingerprint(inputs) if inputs is not None else None
        prev = manifest.read(p).get("steps", {}).get(n.name, {})
        forced = self.plan.force or (self.plan.from_step is not None and n.name >= self.plan.from_step)
        html = p.reports / p.fy / f"{n.name}.html"
        if (fp is not None and not forced and prev.get("fingerprint") == fp and prev.get("outcome") in ("ran", "skipped")
                and outputs_present(p, s)):
            log.info("[%s] %s: 最新のためスキップしました (入力・パラメータ・コードに変更なし)", p.fy, n.name)
            manifest.record_step(p, n.name, {**prev, "outcome": "skipped"})
            self.results[n.fy].steps.append({"step": n.name, "outcome": "skipped", "seconds": 0.0, "html": str(html)})
        else:
            why = "再実行の指定" if forced else _changed(prev.get("inputs"), inputs, outputs_present(p, s)) if fp else ""
            self._execute(n, p, fp, inputs, html, why)
        self._publish(n, p, html)
        hook = self.plan.hooks.get(n)
        if hook:
            hook()

    def _execute(self, n: Node, p: Params, fp: str | None, inputs: dict | None, html: Path, why: str) -> None:
        import papermill as pm

        log.info("[%s] %s を実行中%s ...", p.fy, n.name, f" ({why})" if why else "")
        notices.clear(p, n.name)
        executed = p.reports / p.fy / f"{n.name}.ipynb"
        started = time.time()
        try:
            secs, peak = execute(paths.NOTEBOOKS / f"{n.name}.ipynb", executed,
                                 {"params_path": str(p.params_path), "overrides": p.overrides()},
                                 {LOG_ENV: str(self.log_file)}, tag=f"{n.fy}:{n.name}")
        except pm.PapermillExecutionError as e:
            manifest.record_step(p, n.name, {"fingerprint": None, "outcome": "failed", "error": f"{e.ename}: {e.evalue}"})
            if e.ename in USER_ERROR_NAMES:
                raise StepFailed(f"{p.fy} のステップ {n.name} を中止しました: {e.evalue}", user_error=True) from e
            raise StepFailed(f"{p.fy} のステップ {n.name} がセル {e.cell_index} (実行番号 {e.exec_count}) で失敗しました: "
                             f"{e.ename}: {e.evalue}\n途中までの結果: {executed}") from e
        to_html(executed, html)
        s = step(n.name)
        manifest.record_step(p, n.name, {"fingerprint": fp, "outcome": "ran", "seconds": secs, "peak_mb": peak,
                                         "outputs": output_hashes(p, s), "inputs": inputs})
        self.results[n.fy].steps.append({"step": n.name, "outcome": "ran", "seconds": secs, "peak_mb": peak, "html": str(html),
                                         "started": started, "ended": time.time()})
        log.info("[%s] %s 完了 (%.1f 秒%s) → %s", p.fy, n.name, secs, f", 最大メモリ {peak:,.0f} MB" if peak else "", html)

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
        parts.append("出力ファイルがない")
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
    try:
        for p in plan.params.values():
            (p.reports / p.fy).mkdir(parents=True, exist_ok=True)
            load_key(key_path(p))  # made before any fingerprint, so that its first use is not a change
            check_permissions(p)
            manifest.start(p, log_file)
        log.info("実行ログ: %s", log_file)
        return _Runner(plan, first.run.workers, log_file).run()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def check_permissions(p: Params) -> list[Path]:
    """Warn about (and, with ``privacy.fix_permissions``, fix) internal reports, restricted identity tables and the
    key left readable by other accounts."""
    from ..restricted import audit

    roots = [p.reports / "internal", *sorted(p.processed.parent.glob("fy*/restricted")), key_path(p)]
    return audit(roots, fix=p.privacy.fix_permissions)
