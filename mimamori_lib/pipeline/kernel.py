"""Running one notebook: papermill on a kernel that talks over a private Unix socket (no TCP port), the kernel's
peak memory read before it stops, and the executed notebook converted to offline HTML without code.

Starting a kernel and importing what a notebook uses takes 1.5–3 s on a 2-core machine, longer than several steps
take to compute. :class:`KernelPool` starts the kernels of the next steps while the current ones run, each with its
step's libraries already imported; each kernel still runs exactly one notebook and stops after it, as a fresh kernel
would.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures as cf
import functools
import importlib
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path

from .. import paths

log = logging.getLogger(__name__)

_peaks: dict[str, float] = {}
_peaks_lock = threading.Lock()
_imports_lock = threading.Lock()  # papermill's and jupyter_client's imports from two threads at once can fail

# what every notebook imports (the fork server's imports; each kernel imports the rest of its step's before it runs)
COMMON_IMPORTS = ("matplotlib.pyplot", "pandas", "pyarrow.parquet", "mimamori_lib.notebook", "mimamori_lib.plots",
                  "mimamori_lib.ingest", "IPython.display")


def without_iri_check() -> None:
    """Keep this process's jsonschema (imported by papermill and nbconvert through nbformat) from loading
    rfc3987-syntax, which builds about 35 Lark parsers when imported: 1–2 s before the first step, for an "iri" format
    no notebook schema uses (python-jsonschema/jsonschema#1428). Kernels and JupyterLab are not affected."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # None: its import fails, and jsonschema goes on without it


def papermill_module():
    """papermill, imported once whichever thread asks first."""
    without_iri_check()
    with _imports_lock:
        import papermill
    return papermill


def import_runner_libraries() -> None:
    """Import papermill and nbconvert (called in a thread while the run checks which steps are up to date)."""
    papermill_module()
    with _imports_lock:
        import jupyter_client.manager  # noqa: F401
        import nbconvert  # noqa: F401


@functools.cache
def notebook_imports(notebook: Path) -> tuple[str, ...]:
    """The modules a notebook's code cells import (``import a.b``, ``from a.b import c``: a.b and a.b.c)."""
    import nbformat

    out: list[str] = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return tuple(dict.fromkeys(out))


def preload(modules: Iterable[str]) -> None:
    """Import what can be imported (run inside a kernel started ahead: a name that is not a module, or a library
    that is missing, is left for the notebook to import or report)."""
    for m in modules:
        try:
            importlib.import_module(m)
        except Exception:  # noqa: BLE001, S112 - the notebook's own import says what is wrong
            continue


def _peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


@functools.cache
def _manager_class():
    """The kernel manager: IPC transport, the run's environment added to the kernel's, and the kernel's peak memory
    kept under its ``tag`` when it shuts down."""
    with _imports_lock:
        from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, *, env: dict[str, str] | None = None, tag: str = "", **kw):
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", os.path.join(tempfile.mkdtemp(prefix="mimamori-kernel-"), "kernel"))
            super().__init__(**kw)
            self.extra_env, self.tag = dict(env or {}), tag

        async def start_kernel(self, **kw) -> None:
            kw["env"] = {**os.environ, **kw.get("env", {}), **self.extra_env}
            kw.setdefault("cwd", str(paths.NOTEBOOKS))  # the kernel's own directory; the runner's never changes
            await super().start_kernel(**kw)

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            server = getattr(self, "forkserver", None)
            if server is None:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            from .forkserver import Forked

            env = {k: str(v) for k, v in (kw.get("env") or os.environ).items()}
            pid = await asyncio.to_thread(server.spawn, kernel_cmd, env, str(kw.get("cwd") or paths.NOTEBOOKS))
            pv = self.provisioner
            pv.process, pv.pid, pv.pgid, pv.cwd = Forked(pid), pid, pid, kw.get("cwd")
            self._reconcile_connection_info(pv.connection_info)

        async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None) if self.provisioner else None
            if pid and self.tag:
                peak = _peak_mb(pid)
                if peak is not None:
                    with _peaks_lock:
                        _peaks[self.tag] = peak
            await super().shutdown_kernel(now=now, restart=restart)

    return IPCKernelManager


def _fresh(env: dict[str, str], tag: str):
    """A kernel manager class papermill instantiates itself: a kernel started for this notebook."""
    base = _manager_class()

    class Fresh(base):
        def __init__(self, **kw):
            super().__init__(env=env, tag=tag, **kw)

    return Fresh


def _adopting(km):
    """A kernel manager "class" that hands papermill a kernel started ahead: papermill then finds the kernel running,
    skips starting one, and shuts it down after the notebook as it would its own (``km`` is not an instance of the
    returned class, so Python does not initialise it again)."""

    class Adopt(type(km)):
        def __new__(cls, **kw):
            return km

    return Adopt


class KernelPool:
    """Kernels started ahead for the steps expected next, each with its step's libraries imported.

    The runner calls :meth:`prepare` for the steps it expects next (at most ``size`` kernels wait at a time; each
    holds 150–300 MB), :meth:`take` when a step starts, and :meth:`discard` when a step turns out to be up to date.
    """

    def __init__(self, size: int, env: dict[str, str], busy: int = 1, fork: Iterable[str] | None = None):
        self.size, self.env = size, env
        self._fork = tuple(fork) if fork is not None else None  # the fork server's imports (None: no fork server)
        self._server = None
        self._lock = threading.Lock()
        self._prepared: dict[Hashable, cf.Future] = {}
        # kernels start one after another unless cores are left over beside the ``busy`` steps: a start that competes
        # with a running step slows the step more than it saves
        starters = max(1, min(size, (os.cpu_count() or 1) - busy))
        self._starter = cf.ThreadPoolExecutor(max_workers=starters, thread_name_prefix="mimamori-kernel") if size else None

    def prepare(self, key: Hashable, modules: Iterable[str]) -> bool:
        """Start a kernel for ``key`` importing ``modules``; False when ``size`` kernels already wait."""
        with self._lock:
            if self._starter is None or key in self._prepared or len(self._prepared) >= self.size:
                return False
            self._prepared[key] = self._starter.submit(self._start, tuple(modules))
            return True

    def waiting(self) -> set:
        with self._lock:
            return set(self._prepared)

    def take(self, key: Hashable):
        """The kernel prepared for ``key`` (waits until it is ready), or None: the step starts its own."""
        with self._lock:
            fut = self._prepared.pop(key, None)
        if fut is None:
            return None
        try:
            km = fut.result()
        except Exception as e:  # noqa: BLE001 - the step starts its own kernel instead
            log.warning("先に起動したカーネルが使えません (%s)。新しいカーネルで実行します", e)
            return None
        return km if km.has_kernel else None

    def discard(self, key: Hashable) -> None:
        """Stop the kernel prepared for ``key`` (its step is up to date, or the run stops)."""
        with self._lock:
            fut = self._prepared.pop(key, None)
        if fut is not None:
            fut.add_done_callback(_stop)

    def close(self) -> None:
        """Stop every kernel nobody took (one still starting is waited for, then stopped)."""
        for key in self.waiting():
            self.discard(key)
        if self._starter is not None:
            self._starter.shutdown(wait=True)
        if self._server is not None:
            self._server.close()
            self._server = None

    def _start(self, modules: tuple[str, ...]):
        km = _manager_class()(env=self.env, kernel_name="python3")
        km.forkserver = self._forkserver()
        asyncio.run(_warm(km, modules))
        return km

    def start_server(self) -> None:
        """Start the fork server now (it imports for 1–2 s before it can fork the first kernel)."""
        if self.size:
            self._forkserver()

    def _forkserver(self):
        """The run's fork server, started with the first kernel (None: kernels start Python themselves)."""
        with self._lock:
            if self._server is None and self._fork is not None:
                from .forkserver import ForkServer

                try:
                    self._server = ForkServer(self._fork, self.env, str(paths.NOTEBOOKS))
                except OSError as e:
                    log.warning("カーネルの fork サーバーを起動できません (%s)。カーネルごとに起動します", e)
                    self._fork = None
            return self._server


async def _warm(km, modules: tuple[str, ...]) -> None:
    """Start ``km``'s kernel and import ``modules`` in it, silently (no execution count, nothing in the user's
    namespace)."""
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        code = f"__import__('mimamori_lib.pipeline.kernel', fromlist=['preload']).preload({list(modules)!r})"
        msg_id = kc.execute(code, silent=True, store_history=False)
        while True:
            reply = await kc.get_shell_msg(timeout=300)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    except BaseException:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        raise
    kc.stop_channels()


def _stop(fut: cf.Future) -> None:
    if fut.cancelled() or fut.exception() is not None:
        return
    km = fut.result()
    km.tag = ""
    asyncio.run(km.shutdown_kernel(now=True))


def execute(notebook: Path, executed: Path, parameters: dict, env: dict[str, str], tag: str,
            kernel: Callable[[], object] | None = None) -> tuple[float, float | None]:
    """Run a notebook with papermill, on the kernel ``kernel()`` hands over (from :class:`KernelPool`; None: a kernel
    started for it); returns (seconds, waiting for the kernel included; kernel peak MB). Raises papermill's
    execution error."""
    pm = papermill_module()
    t0 = time.perf_counter()
    km = kernel() if kernel is not None else None
    if km is not None:
        km.tag = tag
    manager = _adopting(km) if km is not None else _fresh(env, tag)
    # no papermill cwd: it would chdir the whole process, and steps run side by side in threads; "immediate": the
    # kernel's work is done when its last cell is (its peak memory is read first), a polite shutdown waits ~0.5 s
    pm.execute_notebook(str(notebook.resolve()), str(executed.resolve()), parameters=parameters, progress_bar=False,
                        log_output=False, kernel_name="python3", kernel_manager_class=manager,
                        shutdown_kernel="immediate")
    with _peaks_lock:
        peak = _peaks.pop(tag, None)
    return round(time.perf_counter() - t0, 2), peak


def to_html(executed: Path, target: Path) -> Path:
    """Executed notebook → HTML without code cells, prompts or log lines (they stay in the executed notebook and the
    run's log), loading nothing from outside the file."""
    without_iri_check()
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
