"""Running one notebook: papermill on a kernel that talks over a private Unix socket (no TCP port), the kernel's
peak memory read before it stops, and the executed notebook converted to offline HTML without code."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from .. import paths

_peaks: dict[str, float] = {}
_peaks_lock = threading.Lock()


def _peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def kernel_manager(tag: str, env: dict[str, str]):
    """A kernel manager class for one run of a notebook: IPC transport, ``env`` added to the kernel's environment,
    and the kernel's peak memory kept under ``tag`` when it shuts down."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", os.path.join(tempfile.mkdtemp(prefix="mimamori-kernel-"), "kernel"))
            super().__init__(**kw)

        async def start_kernel(self, **kw) -> None:
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            kw.setdefault("cwd", str(paths.NOTEBOOKS))  # the kernel's own directory; the runner's never changes
            await super().start_kernel(**kw)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
            if pid:
                peak = _peak_mb(pid)
                if peak is not None:
                    with _peaks_lock:
                        _peaks[tag] = peak
            await super().shutdown_kernel(now=now, restart=restart)

    return IPCKernelManager


def execute(notebook: Path, executed: Path, parameters: dict, env: dict[str, str], tag: str) -> tuple[float, float | None]:
    """Run a notebook with papermill; returns (seconds, kernel peak MB). Raises papermill's execution error."""
    import papermill as pm

    t0 = time.perf_counter()
    # no papermill cwd: it would chdir the whole process, and steps run side by side in threads
    pm.execute_notebook(str(notebook.resolve()), str(executed.resolve()), parameters=parameters, progress_bar=False,
                        log_output=False, kernel_name="python3", kernel_manager_class=kernel_manager(tag, env))
    with _peaks_lock:
        peak = _peaks.pop(tag, None)
    return round(time.perf_counter() - t0, 2), peak


def to_html(executed: Path, target: Path) -> Path:
    """Executed notebook → HTML without code cells, prompts or log lines (they stay in the executed notebook and the
    run's log), loading nothing from outside the file."""
    import nbformat

    from ..offline import check_file, html_exporter, without_css_comments

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    body, _ = html_exporter().from_notebook_node(nb)
    target.write_text(without_css_comments(body), encoding="utf-8")
    check_file(target)
    return target
