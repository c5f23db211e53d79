"""Running one notebook: papermill on a fresh kernel — started by the runner, often ahead of the step with the
notebook's libraries imported (:func:`start_ahead`), its peak memory read before it stops — and the executed notebook
converted to offline HTML without code. Both files are written to a temporary name
and renamed into place, so a run that is stopped never leaves a half-written report that looks finished.

The kernel talks to the runner over Unix sockets in the run's private work folder (no TCP port, nothing in the
system's temporary folder); where that folder's path is too long for a socket, over TCP on localhost."""

from __future__ import annotations

import ast
import concurrent.futures as cf
import functools
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..output.offline import check_file, html_exporter, wareki_years, without_css_comments
from ..params.reads import STEP_ENV
from ..privacy.restricted import atomic_file
from . import forked

log = logging.getLogger(__name__)
_libraries_lock = threading.Lock()


def load_libraries() -> None:
    """Import the libraries that run notebooks, once, when the first step is about to run one: never by two step
    threads at a time, and not at all by a run that has nothing to do (0.7 s of its 2.7 s at Beppu size)."""
    with _libraries_lock:
        import jupyter_client.manager  # noqa: F401
        import nbconvert  # noqa: F401
        import papermill  # noqa: F401


def _peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


SOCKET_PATH_MAX = 100  # a Unix socket's path holds at most 107 bytes; the kernel adds "-<port>"
HISTORY_IN_MEMORY = "--HistoryManager.hist_file=:memory:"  # what nbclient gives a kernel it starts: no history file


@functools.cache
def _manager_class():
    """jupyter_client's kernel manager, with the run's environment and working folder given to the kernel, its
    connection file and sockets in the run's work folder, and the clients made for it remembered (the runner
    starts and stops its kernels itself; nbclient only uses them)."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        extra_env: dict[str, str] = {}
        work: Path | None = None
        fork: forked.ForkMode = None

        def __init__(self, **kw):
            if self.work is not None:
                name = self.work / f"k{secrets.token_hex(3)}"
                kw.setdefault("connection_file", str(name) + ".json")
                if len(str(name).encode()) <= SOCKET_PATH_MAX:
                    kw.setdefault("transport", "ipc")
                    kw.setdefault("ip", str(name))
            super().__init__(**kw)
            self.made_clients: list = []

        def client(self, **kw):
            kc = super().client(**kw)
            self.made_clients.append(kc)
            return kc

        async def start_kernel(self, **kw) -> None:
            kw["env"] = {**os.environ, **(kw.get("env") or {}), **self.extra_env}
            kw.setdefault("cwd", str(paths.NOTEBOOKS))
            if self.fork is not None and self.provisioner is None:
                self.kernel_id = self.kernel_id or str(uuid.uuid4())
                self.provisioner = forked.provisioner_class()(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec,
                                                              parent=self)
                self.provisioner.wait_for_server = self.fork == "wait"
            await super().start_kernel(**kw)

        def peak_mb(self) -> float | None:
            """The kernel process's peak memory so far."""
            pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
            return _peak_mb(pid) if pid else None

    return RunKernelManager


def _manager(env: dict[str, str], tag: str, work: Path | None, fork: forked.ForkMode):
    """The kernel manager class for one step's kernel."""
    base = _manager_class()
    return type("StepKernelManager", (base,), {"extra_env": {**env, STEP_ENV: tag}, "work": work, "fork": fork})


def notebook_imports(notebook: Path) -> str:
    """The import statements of a notebook's code cells (not its parameters cell), in order, each once: what a kernel
    started ahead of its step runs while the step before it is still working."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    seen: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = "".join(cell.get("source", []))
        try:
            tree = ast.parse(source)
        except SyntaxError:  # IPython syntax (a magic): its imports are left to the notebook
            continue
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                line = ast.unparse(node)
                if line not in seen:
                    seen.append(line)
    return "\n".join(seen)


def imported_modules(statements: str) -> list[str]:
    """The modules import statements name (``from a import b``: ``a`` and, where it is one, ``a.b``), in order."""
    out: list[str] = []
    for node in ast.parse(statements).body:
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return list(dict.fromkeys(out))


def step_imports(notebook: Path, libraries: tuple[str, ...]) -> str:
    """What a kernel started ahead of its step imports: the notebook's imports and the libraries its stage imports
    as it works."""
    return "\n".join([notebook_imports(notebook), *(f"import {m}" for m in libraries)]).strip()


async def _start(manager, imports: str):
    """A started kernel, with ``imports`` run in it by an ordinary execute request (nothing else)."""
    t0 = time.perf_counter()
    km = manager(kernel_name="python3")
    await km.start_kernel(extra_arguments=[HISTORY_IN_MEMORY])
    if not imports:
        return km
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        reply = await kc.execute_interactive(imports, store_history=False, allow_stdin=False, timeout=300,
                                             output_hook=lambda msg: None)
    except BaseException:
        await _stop(km)
        raise
    finally:
        kc.stop_channels()
    if reply["content"]["status"] != "ok":  # the notebook meets the same error itself, on a kernel of its own
        await _stop(km)
        raise RuntimeError(f"imports failed: {reply['content'].get('ename')}")
    log.debug("kernel ready with its imports in %.1f s", time.perf_counter() - t0)
    return km


async def _stop(km) -> None:
    for kc in km.made_clients:
        kc.stop_channels()
    if await km.is_alive():
        await km.shutdown_kernel(now=True)
    await km.cleanup_resources()


_stopping: list[cf.Future] = []
_stopping_lock = threading.Lock()
_stopper = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mimamori-kernel-stop")


def stop(km) -> None:
    """Stop a kernel and close the clients made for it (in the background: :func:`wait_stopped` waits for it)."""
    from jupyter_core.utils import run_sync

    with _stopping_lock:
        _stopping.append(_stopper.submit(run_sync(_stop), km))


def wait_stopped() -> None:
    """Wait until every kernel stopped with :func:`stop` has stopped (before the run's work folder goes)."""
    with _stopping_lock:
        futures, _stopping[:] = list(_stopping), []
    for fut in futures:
        try:
            fut.result()
        except Exception as e:  # noqa: BLE001 - a kernel that stopped on its own
            log.debug("kernel stop: %s", e)


@dataclass
class KernelAhead:
    """A kernel started for a step before the step can run, with the notebook's libraries imported in it (the step
    before it still working)."""

    tag: str
    future: cf.Future

    def take(self):
        """The started kernel's manager, or ``None`` where it has not begun to start (still queued behind others) or
        could not start: the step then starts its own."""
        if self.future.cancel():
            return None
        try:
            return self.future.result()
        except Exception as e:  # noqa: BLE001 - a kernel started ahead is only a head start
            log.debug("kernel started ahead for %s not used: %s", self.tag, e)
            return None

    def close(self) -> None:
        """Stop the kernel (a step that did not need to run, or a run that ended), without waiting for it to be
        ready: one not started yet never starts, one still starting is stopped when it is ready."""
        if not self.future.cancel():
            self.future.add_done_callback(_stop_when_ready)


def _stop_when_ready(future: cf.Future) -> None:
    if not future.cancelled() and future.exception() is None:
        stop(future.result())


def start_ahead(pool: cf.Executor, notebook: Path, env: dict[str, str], tag: str, work: Path | None,
                libraries: tuple[str, ...] = (), fork: forked.ForkMode = None) -> KernelAhead:
    """Start the kernel a step will run on, in the background, and import there its notebook's imports and the
    ``libraries`` its stage imports as it works (``fork``: see :func:`execute`)."""
    from jupyter_core.utils import run_sync

    imports = step_imports(notebook, libraries)
    return KernelAhead(tag, pool.submit(run_sync(_start), _manager(env, tag, work, fork), imports))


def execute(notebook: Path, executed: Path, parameters: dict, env: dict[str, str], tag: str,
            work: Path | None = None, ahead: KernelAhead | None = None,
            fork: forked.ForkMode = None) -> tuple[float, float | None]:
    """Run a notebook with papermill on a fresh kernel (``ahead``'s where it was started before the step; otherwise
    forked from the run's fork server where ``fork`` and the server is ready: :mod:`.forked`); returns
    (seconds, the kernel's peak MB). The executed notebook is written when papermill is done, also when a cell
    failed (it shows where). Raises papermill's execution error."""
    import papermill as pm
    from jupyter_core.utils import run_sync

    t0 = time.perf_counter()
    km = (ahead.take() if ahead is not None else None) or run_sync(_start)(_manager(env, tag, work, fork), "")
    try:
        with atomic_file(executed) as tmp:
            try:
                pm.execute_notebook(str(notebook.resolve()), str(tmp.resolve()), parameters=parameters, km=km,
                                    kernel_name="python3", progress_bar=False, log_output=False, request_save_on_cell_execute=False)
            except pm.PapermillExecutionError:
                if tmp.exists():
                    os.replace(tmp, executed)
                raise
    finally:
        peak = km.peak_mb()
        stop(km)  # nbclient leaves a kernel it did not start running
    return round(time.perf_counter() - t0, 2), peak


def split_seconds(executed: Path, total: float) -> dict[str, float]:
    """Where a step's time went (what papermill records of each cell): the kernel's start (or the wait for one
    started ahead) and papermill's setup, its first code cell after the parameters (the libraries imported and the
    params loaded — in some notebooks also the stage itself), and the other cells."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    cells = [(c, float(c.metadata.get("papermill", {}).get("duration") or 0.0)) for c in nb.cells if c.cell_type == "code"]
    tags = [set(c.metadata.get("tags", [])) for c, _ in cells]
    body = [d for (c, d), t in zip(cells, tags, strict=True) if not t & {"parameters", "injected-parameters"}]
    first, rest = (body[0], sum(body[1:])) if body else (0.0, 0.0)
    kernel = max(total - sum(d for _, d in cells), 0.0)
    return {"kernel": round(kernel, 2), "first_cell": round(first, 2), "cells": round(rest, 2)}


def to_html(executed: Path, target: Path) -> Path:
    """Executed notebook → HTML without code cells, prompts or log lines (they stay in the executed notebook and the
    run's log), loading nothing from outside the file."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id: the same run, the same report
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    title = next((m[1].strip() for c in nb.cells if c.cell_type == "markdown" for m in [re.search(r"^# (.+)$", c.source, re.M)]
                  if m), target.stem)
    body, _ = html_exporter().from_notebook_node(nb, resources={"metadata": {"name": title}})
    with atomic_file(target) as tmp:
        tmp.write_text(wareki_years(without_css_comments(body)), encoding="utf-8")
        check_file(tmp)
    return target
