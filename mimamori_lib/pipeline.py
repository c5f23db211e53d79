"""Run a year's notebooks with papermill, in order, and convert each executed notebook to HTML (no code)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import notices, paths
from .errors import USER_ERROR_NAMES, InputError
from .params import Params, load_params

log = logging.getLogger(__name__)


class StepFailed(RuntimeError):
    """A notebook failed; the message names the step and the cell. ``user_error``: the notebook stopped on a
    user's mistake (a params value, an unusable input), whose own message says what to fix."""

    def __init__(self, message: str, user_error: bool = False):
        super().__init__(message)
        self.user_error = user_error


@dataclass
class RunResult:
    fiscal_year: int
    steps: list[dict] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return round(sum(s["seconds"] for s in self.steps), 2)


def _ipc_kernel_manager():
    """Kernels talk over a private Unix socket (not a TCP port on the machine): the city's data stays local."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", os.path.join(tempfile.mkdtemp(prefix="mimamori-kernel-"), "kernel"))
            super().__init__(**kw)

    return IPCKernelManager


def notebooks_for(p: Params) -> list[Path]:
    """The run's notebooks that exist today, in the params' order."""
    out = []
    for name in p.notebooks:
        nb = paths.NOTEBOOKS / f"{name}.ipynb"
        if nb.exists():
            out.append(nb)
        else:
            log.info("ノートブック %s はまだありません (スキップ)", nb.name)
    return out


def to_html(executed: Path, target: Path) -> Path:
    """Executed notebook → HTML without code cells or prompts, loading nothing from outside the file."""
    import nbformat

    from .offline import check_file, html_exporter

    nb = nbformat.read(executed, as_version=4)
    body, _ = html_exporter().from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")
    check_file(target)
    return target


def run_year(params_path: str | Path, raw_dir: str | None = None, out_dir: str | None = None,
             start: str | None = None, stop: str | None = None) -> RunResult:
    """Run the notebooks of one fiscal year (from ``start``, before ``stop``); stop at the first failure with the
    step and cell named."""
    import papermill as pm

    overrides = {"raw_dir": str(paths.resolve(raw_dir, paths.RAW)) if raw_dir else None,
                 "out_dir": str(paths.resolve(out_dir, paths.ROOT)) if out_dir else None}
    p = load_params(params_path, overrides)
    fy = p.fiscal_year
    if not any(p.raw_year.glob("*/*.csv")):
        raise InputError(f"入力フォルダに CSV がありません: {p.raw_year} (各課のエクスポートを <部署>/<ファイル>.csv の形で置いてください。"
                         "デモは `mimamori report` が合成データを作ります)")
    target = p.reports / paths.fy_dir(fy)
    target.mkdir(parents=True, exist_ok=True)
    check_permissions(p)
    result = RunResult(fiscal_year=fy)
    nbs = [nb for nb in notebooks_for(p) if (start is None or nb.stem >= start) and (stop is None or nb.stem < stop)]
    for i, nb in enumerate(nbs, 1):
        t0 = time.perf_counter()
        log.info("[%s %d/%d] %s を実行中 ...", paths.fy_dir(fy), i, len(nbs), nb.stem)
        executed = target / nb.name
        notices.clear(p, nb.stem)
        try:
            pm.execute_notebook(
                str(nb), str(executed), parameters={"params_path": str(p.params_path), "overrides": {
                    k: v for k, v in overrides.items() if v is not None}},
                cwd=str(paths.NOTEBOOKS), progress_bar=False, log_output=False, kernel_name="python3",
                kernel_manager_class=_ipc_kernel_manager(),
            )
        except pm.PapermillExecutionError as e:
            if e.ename in USER_ERROR_NAMES:
                raise StepFailed(f"{paths.fy_dir(fy)} のステップ {nb.stem} を中止しました: {e.evalue}", user_error=True) from e
            raise StepFailed(
                f"{paths.fy_dir(fy)} のステップ {nb.stem} がセル {e.cell_index} (実行番号 {e.exec_count}) で失敗しました: "
                f"{e.ename}: {e.evalue}\n途中までの結果: {executed}") from e
        html = to_html(executed, executed.with_suffix(".html"))
        secs = round(time.perf_counter() - t0, 2)
        result.steps.append({"step": nb.stem, "seconds": secs, "html": str(html)})
        log.info("[%s %d/%d] %s 完了 (%.1f 秒) → %s", paths.fy_dir(fy), i, len(nbs), nb.stem, secs, html)
        _record_step(target / "run_steps.json", nb.stem, secs)
        public = p.evaluation.public_report
        if public and nb.stem == p.evaluation.public_notebook:
            dest = p.reports / "public" / public.format(fy=fy)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(html.read_text(encoding="utf-8"), encoding="utf-8")
            log.info("公開用レポート: %s", dest)
    ran = {s["step"] for s in result.steps}
    for n in notices.read(p):
        if n["step"] in ran:
            log.log(logging.WARNING if n["level"] == "warning" else logging.INFO, "[%s %s] %s", p.fy, n["step"], n["message"])
    return result


def check_permissions(p: Params) -> list[Path]:
    """Warn about (and, with ``privacy.fix_permissions``, fix) internal reports, restricted identity tables and the
    key left readable by other accounts."""
    from .pseudonym import key_path
    from .restricted import audit

    roots = [p.reports / "internal", *sorted(p.processed.parent.glob("fy*/restricted")), key_path(p)]
    return audit(roots, fix=p.privacy.fix_permissions)


def _record_step(f: Path, step: str, seconds: float) -> None:
    """Keep the latest time of each step of the year (the evaluation's run-time indicator)."""
    import json

    steps = json.loads(f.read_text()) if f.exists() else []
    steps = [s for s in steps if s["step"] != step] + [{"step": step, "seconds": seconds}]
    f.write_text(json.dumps(sorted(steps, key=lambda s: s["step"]), ensure_ascii=False, indent=1))
