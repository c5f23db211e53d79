"""Running one notebook: papermill on a fresh kernel (the run's environment added, its peak memory read before it
stops), and the executed notebook converted to offline HTML without code. Both files are written to a temporary name
and renamed into place, so a run that is stopped never leaves a half-written report that looks finished.

The kernel talks to the runner over Unix sockets in the run's private work folder (no TCP port, nothing in the
system's temporary folder); where that folder's path is too long for a socket, over TCP on localhost."""

from __future__ import annotations

import functools
import os
import re
import secrets
import threading
import time
from pathlib import Path

from .. import paths
from ..output.offline import check_file, html_exporter, wareki_years, without_css_comments
from ..params.reads import STEP_ENV
from ..privacy.restricted import atomic_file

_peaks: dict[str, float] = {}
_peaks_lock = threading.Lock()
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


@functools.cache
def _manager_class():
    """jupyter_client's kernel manager, with the run's environment and working folder given to the kernel, its
    connection file and sockets in the run's work folder, and its peak memory kept under its ``tag`` when it shuts
    down."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        extra_env: dict[str, str] = {}
        tag = ""
        work: Path | None = None

        def __init__(self, **kw):
            if self.work is not None:
                name = self.work / f"k{secrets.token_hex(3)}"
                kw.setdefault("connection_file", str(name) + ".json")
                if len(str(name).encode()) <= SOCKET_PATH_MAX:
                    kw.setdefault("transport", "ipc")
                    kw.setdefault("ip", str(name))
            super().__init__(**kw)

        async def start_kernel(self, **kw) -> None:
            kw["env"] = {**os.environ, **(kw.get("env") or {}), **self.extra_env}
            kw.setdefault("cwd", str(paths.NOTEBOOKS))
            await super().start_kernel(**kw)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
            peak = _peak_mb(pid) if pid else None
            if peak is not None and self.tag:
                with _peaks_lock:
                    _peaks[self.tag] = peak
            await super().shutdown_kernel(now=now, restart=restart)

    return RunKernelManager


def _manager(env: dict[str, str], tag: str, work: Path | None):
    """A kernel manager class papermill instantiates for one notebook."""
    base = _manager_class()
    return type("StepKernelManager", (base,), {"extra_env": {**env, STEP_ENV: tag}, "tag": tag, "work": work})


def execute(notebook: Path, executed: Path, parameters: dict, env: dict[str, str], tag: str,
            work: Path | None = None) -> tuple[float, float | None]:
    """Run a notebook with papermill on a fresh kernel; returns (seconds, the kernel's peak MB). The executed
    notebook is renamed into place when papermill is done, also when a cell failed (it shows where). Raises
    papermill's execution error."""
    import papermill as pm

    t0 = time.perf_counter()
    with atomic_file(executed) as tmp:
        try:
            pm.execute_notebook(str(notebook.resolve()), str(tmp.resolve()), parameters=parameters, progress_bar=False,
                                log_output=False, kernel_name="python3", kernel_manager_class=_manager(env, tag, work),
                                shutdown_kernel="immediate")  # its peak memory is read first
        except pm.PapermillExecutionError:
            if tmp.exists():
                os.replace(tmp, executed)
            raise
    with _peaks_lock:
        peak = _peaks.pop(tag, None)
    return round(time.perf_counter() - t0, 2), peak


def split_seconds(executed: Path, total: float) -> dict[str, float]:
    """Where a step's time went (what papermill records of each cell): the kernel's start and stop, its first code
    cell after the parameters (the libraries imported and the params loaded — in some notebooks also the stage
    itself), and the other cells."""
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
