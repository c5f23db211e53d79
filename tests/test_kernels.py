"""Kernels started ahead (issue 34): what a kernel started for a step imports before the step runs — the notebook's
own imports and the libraries its stage imports as it works — through an ordinary execute request."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from mimamori_lib import paths
from mimamori_lib.pipeline.kernel import notebook_imports
from mimamori_lib.pipeline.steps import STEPS

from .conftest import kernels_running


def _notebook(path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": tags}, "source": src, "outputs": [],
                     "execution_count": None} for src, tags in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def test_a_notebooks_imports_are_its_import_lines_once_each(tmp_path: Path) -> None:
    """Only import statements (not the parameters cell, not a cell in IPython syntax, nothing that computes)."""
    nb = _notebook(tmp_path / "x.ipynb", [
        ("import os\nparams_path = 'x'", ["parameters"]),
        ("from mimamori_lib import paths\nimport json as j\np = start(params_path)", []),
        ("%matplotlib inline\nimport sys", []),
        ("import json as j\nfrom IPython.display import Markdown, display\nprint(1)", []),
    ])
    assert notebook_imports(nb).splitlines() == ["from mimamori_lib import paths", "import json as j",
                                                 "from IPython.display import Markdown, display"]


@pytest.mark.parametrize("name", sorted(STEPS))
def test_what_a_step_imports_ahead_can_be_imported(name: str) -> None:
    """A name that no longer exists would only cost the head start; this keeps the lists true."""
    code = notebook_imports(paths.NOTEBOOKS / f"{name}.ipynb")
    assert code, "every notebook imports the library"
    exec(compile(code, f"{name}.ipynb", "exec"), {})
    for module in STEPS[name].libraries:
        importlib.import_module(module)


def test_a_kernel_closed_while_it_starts_is_stopped_when_ready(tmp_path: Path) -> None:
    """A step found up to date while its kernel is still starting: the kernel is stopped once ready, nothing
    waits for it, and its connection file goes; one queued behind it never starts, and a step whose kernel is still
    queued starts its own at once."""
    import concurrent.futures as cf

    from mimamori_lib.pipeline.kernel import load_libraries, start_ahead, wait_stopped

    load_libraries()
    nb = paths.NOTEBOOKS / "35_meeting.ipynb"
    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        first = start_ahead(pool, nb, {}, "2025:35_meeting", tmp_path)
        queued = start_ahead(pool, nb, {}, "2025:45_cases", tmp_path)
        waiting = start_ahead(pool, nb, {}, "2025:50_evaluation", tmp_path)
        assert waiting.take() is None and waiting.future.cancelled(), "a step does not wait behind another's kernel"
        queued.close()
        first.close()
        assert queued.future.cancelled()
    wait_stopped()
    assert first.future.done() and kernels_running() == []
    assert not list(tmp_path.glob("k*.json")), "the kernel's connection file is removed"


def test_a_kernel_whose_imports_fail_is_not_used(tmp_path: Path) -> None:
    """A library that cannot be imported (a stale name in ``libraries``): the kernel started ahead is stopped and
    the step is left to start its own, where the notebook meets the error itself."""
    import concurrent.futures as cf

    from mimamori_lib.pipeline.kernel import load_libraries, start_ahead, wait_stopped

    load_libraries()
    with cf.ThreadPoolExecutor(max_workers=1) as pool:
        ahead = start_ahead(pool, paths.NOTEBOOKS / "45_cases.ipynb", {}, "2025:45_cases", tmp_path,
                            ("no_such_library_here",))
        ahead.future.exception()  # wait until it has tried
        assert ahead.take() is None
    wait_stopped()
    assert kernels_running() == [] and not list(tmp_path.glob("k*.json"))


KERNEL_FACTS = """
import json, os, sys, tempfile
import matplotlib.pyplot as plt
plt.plot([1, 2])
plt.show()
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "session": os.getsid(0), "cwd": os.getcwd(),
                  "mark": os.environ.get("MIMAMORI_TEST_MARK"), "tmp": tempfile.gettempdir(), "umask": os.umask(0o22),
                  "backend": plt.get_backend(), "path0": sys.path[0]}))
"""


def _run_in(km, code: str) -> list[dict]:
    from jupyter_core.utils import run_sync

    outputs: list[dict] = []

    async def go():
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(code, timeout=60, output_hook=lambda msg: outputs.append(msg))
        finally:
            kc.stop_channels()

    run_sync(go)()
    return outputs


def test_a_forked_kernel_is_the_kernel_a_new_process_would_have_been(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 34: a kernel forked from the run's fork server runs in its own session, with the environment, working
    folder, temporary folder and file-mode mask a new process would have had (not those of the server, started
    earlier), and draws
    its figures inline although the server imported matplotlib; stopped, nothing is left running."""
    import concurrent.futures as cf
    import os

    from mimamori_lib.pipeline import forked
    from mimamori_lib.pipeline.fingerprint import code_hash
    from mimamori_lib.pipeline.kernel import load_libraries, start_ahead, stop, wait_stopped

    load_libraries()
    forked.start_server(["pandas", "mimamori_lib.output.plots"], code_hash())  # the first here, or one started earlier
    assert forked.ready(60)  # the server started under this process's mask (pytest's), before the run's below
    (tmp_path / "t").mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    old_umask = os.umask(0o077)  # a run under a stricter mask than the server's (started under pytest's)
    try:
        with cf.ThreadPoolExecutor(max_workers=1) as pool:
            km = start_ahead(pool, paths.NOTEBOOKS / "35_meeting.ipynb", {"MIMAMORI_TEST_MARK": "見守り"},
                             "2025:35_meeting", tmp_path, fork="wait").future.result()
    finally:
        os.umask(old_umask)
    try:
        assert km.provisioner.forked
        outputs = _run_in(km, KERNEL_FACTS)
        running = kernels_running()
    finally:
        stop(km)
        wait_stopped()
    facts = json.loads("".join(o["content"]["text"] for o in outputs if o["msg_type"] == "stream"
                               and o["content"]["name"] == "stdout"))
    assert facts["ppid"] != os.getpid(), "forked from the server, not started by this process"
    assert running == [facts["pid"]], "the tests see a forked kernel that is left running"
    assert b"multiprocessing.forkserver" in Path(f"/proc/{facts['ppid']}/cmdline").read_bytes()
    assert facts["session"] == facts["pid"], "its own session, as jupyter_client starts a kernel"
    assert facts["mark"] == "見守り" and facts["cwd"] == str(paths.NOTEBOOKS) == facts["path0"]
    assert facts["tmp"] == str(tmp_path / "t")
    assert facts["umask"] == 0o077, "the run's file-mode mask, not the server's"
    assert "inline" in facts["backend"]
    assert any("image/png" in o["content"].get("data", {}) for o in outputs if o["msg_type"] == "display_data")
    assert kernels_running() == []


def test_the_fork_servers_modules_are_every_steps_imports() -> None:
    """What the server imports comes from the notebooks and the steps' libraries (one home): ipykernel's first,
    then each step's, each once; a name that is not a module (``from x import f``) is only skipped by the server."""
    from mimamori_lib.pipeline.runner import server_modules

    modules = server_modules(sorted(STEPS))
    assert modules[0] == "ipykernel.kernelapp" and len(modules) == len(set(modules))
    assert {"mimamori_lib.notebook", "splink.comparison_library", "sklearn.linear_model", "openpyxl"} <= set(modules)


def test_a_fork_server_that_cannot_start_leaves_kernels_to_start_as_new_processes(tmp_path: Path) -> None:
    """A module that fails as the server imports it stops the server: a kernel that waits for it starts at once as a
    new process, with one line in the log (no step waits for a server that will never be ready)."""
    import os
    import subprocess
    import sys

    (tmp_path / "boom.py").write_text("raise RuntimeError('not here')\n", encoding="utf-8")
    code = (
        "import concurrent.futures as cf, logging, pathlib, time\n"
        "from mimamori_lib import paths\n"
        "from mimamori_lib.pipeline import forked\n"
        "from mimamori_lib.pipeline.kernel import load_libraries, start_ahead, stop, wait_stopped\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "load_libraries()\n"
        "forked.start_server(['boom'], 'code')\n"
        "t0 = time.perf_counter()\n"
        "with cf.ThreadPoolExecutor(max_workers=1) as pool:\n"
        f"    km = start_ahead(pool, paths.NOTEBOOKS / '35_meeting.ipynb', {{}}, '2025:35_meeting',\n"
        f"                     pathlib.Path({str(tmp_path)!r}),\n"
        "                     fork='wait').future.result()\n"
        "print('KERNEL', km is not None and not km.provisioner.forked, round(time.perf_counter() - t0))\n"
        "stop(km)\n"
        "wait_stopped()\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(paths.ROOT)])}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    started, seconds = r.stdout.split("KERNEL ")[1].split()
    assert started == "True" and int(seconds) < 30
    assert r.stderr.count("カーネルを複製するプロセスを起動できなかった") == 1


def test_no_kernel_is_forked_from_a_server_that_holds_older_code() -> None:
    """A second run in the same process (JupyterLab, the tests) forks from the server the first started, which holds
    the library's code as it was then: once the code changed, kernels start as new processes (with one line)."""
    import subprocess
    import sys

    code = ("import logging\n"
            "from mimamori_lib.pipeline import forked\n"
            "logging.basicConfig(level=logging.INFO)\n"
            "forked.start_server(['json'], 'code-1')\n"
            "first = forked.ready(60)\n"
            "forked.start_server(['json'], 'code-1')\n"
            "same = forked.ready(0)\n"
            "forked.start_server(['json'], 'code-2')\n"
            "forked.start_server(['json'], 'code-2')\n"
            "print('READY', first, same, forked.ready(0))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=paths.ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("READY ")[1].split() == ["True", "True", "False"]
    assert r.stderr.count("ライブラリのコードが変わった") == 1


def test_a_forked_kernel_stops_when_the_run_is_killed(tmp_path: Path) -> None:
    """A run killed outright cannot stop its kernels: a forked kernel stops itself once the run has gone, and with
    it the server (no kernel left holding a city's data in memory)."""
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import concurrent.futures as cf, os, pathlib, signal\n"
        "from mimamori_lib import paths\n"
        "from mimamori_lib.pipeline import forked\n"
        "from mimamori_lib.pipeline.kernel import load_libraries, start_ahead\n"
        "load_libraries()\n"
        "forked.start_server(['pandas'], 'code')\n"
        "with cf.ThreadPoolExecutor(max_workers=1) as pool:\n"
        f"    km = start_ahead(pool, paths.NOTEBOOKS / '35_meeting.ipynb', {{}}, '2025:35_meeting',\n"
        f"                     pathlib.Path({str(tmp_path)!r}), fork='wait').future.result()\n"
        "server = open(f'/proc/{km.provisioner.pid}/stat').read().rsplit(')', 1)[1].split()[1]\n"
        "is_server = b'multiprocessing.forkserver' in open(f'/proc/{server}/cmdline', 'rb').read()\n"
        "print('KERNEL', km.provisioner.forked and is_server, km.provisioner.pid, server, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=paths.ROOT)
    assert r.returncode == -signal.SIGKILL, r.stderr
    forked, kernel, server = r.stdout.split("KERNEL ")[1].split()
    assert forked == "True"
    deadline = time.monotonic() + 15
    while (Path(f"/proc/{kernel}").exists() or Path(f"/proc/{server}").exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{kernel}").exists(), "the forked kernel stopped once the run was gone"
    assert not Path(f"/proc/{server}").exists(), "and the server with it"
