"""A fork server for kernels: one process imports the kernel and the libraries every notebook uses, once per run;
each kernel is a fork of it (about 0.2 s instead of 1.5–2 s of starting Python and importing pandas, matplotlib and
the library again).

A forked kernel is a new process with its own memory; what it shares with the server is only what was imported
(copied when written). It runs one notebook, as a kernel started with ``python -m ipykernel_launcher`` would: same
arguments, environment and working directory, its own process group, and it exits when the server does. Python's
``random`` is re-seeded in each fork; nothing else random has been drawn in the server.

Protocol (the server's stdin/stdout, one JSON line each way): ``{"argv": [...], "env": {...}, "cwd": "..."}`` →
``{"pid": N}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable

INLINE = "module://matplotlib_inline.backend_inline"


class ForkServer:
    """The runner's side: starts the server, asks it for kernels."""

    def __init__(self, modules: Iterable[str], env: dict[str, str], cwd: str):
        self._lock = threading.Lock()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "mimamori_lib.pipeline.forkserver", *modules], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env={**os.environ, **env}, cwd=cwd, text=True, encoding="utf-8")

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str) -> int:
        """A kernel forked from the server (its pid); raises OSError when the server cannot make one."""
        with self._lock:
            if self._proc.poll() is not None:
                raise OSError(f"カーネルの fork サーバーが終了しています (終了コード {self._proc.returncode})")
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd}) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise OSError("カーネルの fork サーバーが応答しません")
        reply = json.loads(line)
        if "pid" not in reply:
            raise OSError(reply.get("error", "fork できません"))
        return int(reply["pid"])

    def close(self) -> None:
        """Stop the server at once, importing or not (kernels still running notice and exit within a second)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for f in (self._proc.stdin, self._proc.stdout):
            if f is not None:
                f.close()


class Forked:
    """A forked kernel as jupyter_client's local provisioner sees a process (the server, its parent, reaps it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                with open(f"/proc/{self.pid}/stat", encoding="ascii") as f:
                    if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                        self.returncode = -signal.SIGKILL
            except (ProcessLookupError, FileNotFoundError):
                self.returncode = -signal.SIGKILL  # its exit code went to the server
            except PermissionError:  # pragma: no cover - a pid reused by another account's process
                self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        t0 = time.monotonic()
        while self.poll() is None:
            if timeout is not None and time.monotonic() - t0 > timeout:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _kernel(request: dict) -> None:
    """In the fork: become the kernel the request's command line describes, then exit."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own subprocesses
    os.dup2(2, 1)  # stdout was the reply pipe
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ["JPY_PARENT_PID"] = str(os.getppid())
    os.chdir(request["cwd"])
    argv = request["argv"]
    args = argv[argv.index("ipykernel_launcher") + 1:] if "ipykernel_launcher" in argv else argv[1:]
    args.append(f"--IPKernelApp.parent_handle={os.getppid()}")  # exit when the server does
    import random

    random.seed()
    from ipykernel.kernelapp import IPKernelApp

    code = 0
    try:
        IPKernelApp.launch_instance(argv=args)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:  # noqa: BLE001 - reported on stderr, like a kernel that fails to start
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve(modules: list[str]) -> None:
    """The server: import, then fork a kernel per request until stdin closes."""
    os.environ.setdefault("MPLBACKEND", INLINE)  # what ipykernel sets, before matplotlib reads it
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the system when they exit
    from .kernel import preload

    preload(["ipykernel.kernelapp", "ipykernel.ipkernel", *modules])
    out = sys.stdout
    for line in sys.stdin:
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as e:
            out.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
            out.flush()
            continue
        if pid == 0:
            _kernel(request)
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()


if __name__ == "__main__":
    serve(sys.argv[1:])
