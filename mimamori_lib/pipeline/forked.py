"""Kernels forked from a process that has already imported the libraries the steps use, instead of a new Python that
imports them again (1–4 s of processor time a kernel; half the processor time of a re-run, of the test suite).

Python's ``forkserver`` (a public API of :mod:`multiprocessing`) starts one server process per run, which imports
the modules named when it starts; each kernel is then a fork of it, and jupyter_client's local provisioner (documented
for subclassing) manages the fork as it manages a kernel it started itself. The fork becomes the kernel a new Python
would have been: its own session, the run's file-mode mask, the kernel's environment and working folder, the system's
temporary folder looked up again, then ipykernel's own start. matplotlib chooses its backend from the environment when imported, and the
kernel's environment is only known in the fork: the fork sets it as matplotlib would have when imported there. A
forked kernel stops itself, with its children, once the run that started it has ended: a run killed outright
leaves no kernel holding a city's data (nor the server, which lives while a fork holds its pipe).

Where a kernel is needed before the server is ready, or the kernel is not this Python's ipykernel, or the platform
has no fork server, or the main module is a script that a new process would run again, the kernel starts as a new
process as before: the server is only a head start. ``run.fork_kernels: false`` turns it off.
"""

from __future__ import annotations

import atexit
import functools
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Literal

from ..ingest.parallel import main_is_script

log = logging.getLogger(__name__)
ForkMode = Literal["now", "wait"] | None  # a kernel forked now if the server is ready, or once it is (a kernel
                                          # started ahead); None: a new process
KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "IPython", "jupyter_client.session")
SERVER_WAIT = 120.0  # seconds a kernel started ahead waits for the server before it starts as a new process

_ready = threading.Event()  # the server has imported its modules and forks
_settled = threading.Event()  # the server is ready or could not start: nothing left to wait for
_lock = threading.Lock()
_started = False
_code: str | None = None  # the library's code when the server started (it imported that code)
_stale = False  # the code changed since: this process forks no more kernels
_kernels: weakref.WeakSet = weakref.WeakSet()


def usable() -> bool:
    """Whether kernels can be forked here: a fork server on this platform, and a main module a new process may
    import again."""
    return "forkserver" in multiprocessing.get_all_start_methods() and not main_is_script()


def preload(modules: Iterable[str]) -> list[str]:
    """The modules the server imports: ipykernel's and ``modules``, in order, each once."""
    return list(dict.fromkeys((*KERNEL_MODULES, *modules)))


def start_server(modules: Iterable[str], code: str) -> None:
    """Start the fork server in the background with ``modules`` imported, for the library's ``code`` (its hash);
    kernels are forked from it once it is ready. Once per process: a later run in the same process (JupyterLab, the
    tests) forks from the same server, unless the library's code changed since: then no kernel is forked again."""
    global _started, _code, _stale
    with _lock:
        if _started and code != _code and not _stale:
            _stale = True
            log.info("ライブラリのコードが変わったため、以後のカーネルは新しいプロセスで起動します")
        if _started or not usable():
            return
        _started, _code = True, code
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload(modules))
    atexit.register(_stop_left_kernels)
    threading.Thread(target=_wait_ready, args=(ctx,), name="mimamori-fork-server", daemon=True).start()


def _nothing() -> None:
    """What the first fork does: nothing (its start tells that the server has imported its modules)."""


def _wait_ready(ctx) -> None:
    try:
        p = ctx.Process(target=_nothing, name="mimamori-fork-check")
        p.start()
        p.join()
        if p.exitcode == 0:
            _ready.set()
    except Exception as e:  # noqa: BLE001 - without a server, kernels start as new processes
        log.info("カーネルを複製するプロセスを起動できなかったため、各カーネルを新しいプロセスで起動します (%s)",
                 type(e).__name__)
    finally:
        _settled.set()


def ready(wait: float = 0.0) -> bool:
    """Whether the server is ready, waiting at most ``wait`` seconds for it (not at all where none was started)."""
    if _stale:
        return False
    if wait > 0 and _started:
        _settled.wait(wait)
    return _ready.is_set()


def _stop_left_kernels() -> None:
    """At exit, kill a forked kernel still running (multiprocessing would otherwise wait for it forever)."""
    for p in list(_kernels):
        if p.is_alive():
            p.kill()
            p.join(5)


def _is_ipykernel(cmd: list[str]) -> bool:
    return len(cmd) >= 3 and cmd[0] == sys.executable and cmd[1:3] == ["-m", "ipykernel_launcher"]


def _gone(pid: int) -> bool:
    """Whether a process has ended (a zombie, ended but not yet waited for, too)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except ProcessLookupError:
        return True
    except OSError:  # no /proc here: it is running
        return False


def _watch_run(run: int) -> None:
    """In the kernel: stop it and its children once the run that started it has ended (killed, it could not stop
    them; the server stays while a kernel it forked holds its pipe)."""
    while not _gone(run):
        time.sleep(1.0)
    os.killpg(0, signal.SIGKILL)


def umask() -> int | None:
    """This process's file-mode mask, read without changing it (``os.umask`` sets it, for every thread at once);
    None where the system does not tell."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        return None


def _kernel(argv: list[str], env: dict[str, str], cwd: str, run: int, mask: int | None) -> None:
    """The fork: become the kernel a new Python would have been, then run ipykernel."""
    os.setsid()  # its own session, as jupyter_client starts a kernel: signals reach it and its children only
    if mask is not None:
        os.umask(mask)  # the run's, not the server's (started earlier, perhaps under another)
    threading.Thread(target=_watch_run, args=(run,), name="mimamori-run-watch", daemon=True).start()
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # looked up again from this environment's TMPDIR
    os.chdir(cwd)
    sys.path[0] = cwd  # as ``python -m`` puts the working folder first
    sys.argv = ["ipykernel_launcher", *argv]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize([*argv, f"--IPKernelApp.parent_handle={os.getppid()}"])  # (and prints no connection note)
    if "matplotlib" in sys.modules and os.environ.get("MPLBACKEND"):
        import matplotlib

        # what matplotlib does when imported: its backend from the environment, here the kernel's (inline)
        matplotlib.rcParams["backend"] = os.environ["MPLBACKEND"]
    app.start()


class ForkedProcess:
    """A forked kernel, with the methods of :class:`subprocess.Popen` that jupyter_client's provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, process) -> None:
        self.process = process
        self.pid = process.pid

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self.process.join(timeout)
        return self.process.exitcode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.process.terminate()

    def kill(self) -> None:
        self.process.kill()


@functools.cache
def provisioner_class():
    """jupyter_client's local provisioner (documented for subclassing) with the kernel forked from the server where it
    is ready, waiting for it up to :data:`SERVER_WAIT` seconds where ``wait_for_server`` (a kernel started ahead of
    its step); otherwise, and for any other kernel, a new process as before."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):
        wait_for_server: bool = False
        forked: bool = False  # whether this kernel was forked (otherwise it started as a new process)

        async def launch_kernel(self, cmd: list[str], **kwargs):
            # (blocking calls: a kernel starts on a thread of its own, :func:`.kernel.start_ahead` or the step's)
            if not _is_ipykernel(cmd) or not ready(SERVER_WAIT if self.wait_for_server else 0):
                return await super().launch_kernel(cmd, **kwargs)
            env = dict(kwargs.get("env") or os.environ)
            cwd = str(kwargs.get("cwd") or os.getcwd())
            process = multiprocessing.get_context("forkserver").Process(target=_kernel,
                                                                        args=(cmd[3:], env, cwd, os.getpid(), umask()),
                                                                        name="mimamori-kernel")
            process.start()
            _kernels.add(process)
            self.forked = True
            self.process = ForkedProcess(process)
            self.pid = self.pgid = process.pid  # the fork starts its own session: its group is its own number
            self.cwd = cwd
            return self.connection_info

    return ForkedProvisioner
