"""Kernels started ahead: a step's kernel has its libraries imported but is otherwise a fresh kernel, and every
kernel started is stopped (taken, discarded or left over at the end)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mimamori_lib import paths
from mimamori_lib.pipeline.kernel import KernelPool, execute, notebook_imports, preload


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.read(paths.NOTEBOOKS / "35_meeting.ipynb", as_version=4).metadata
    nb.cells = [nbformat.v4.new_code_cell("params_path = None\noverrides = None", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_notebook_imports_lists_what_its_cells_import(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "a.ipynb", "import json, os.path\nfrom mimamori_lib import cases\nfrom . import x",
                   "%matplotlib inline")
    assert notebook_imports(nb) == ("json", "os.path", "mimamori_lib", "mimamori_lib.cases")
    assert "mimamori_lib.notebook" in notebook_imports(paths.NOTEBOOKS / "30_extract.ipynb")


def test_preload_leaves_what_cannot_be_imported_to_the_notebook() -> None:
    preload(["json", "no_such_module_here", "mimamori_lib.notebook.start"])
    assert "json" in sys.modules and "no_such_module_here" not in sys.modules


def test_a_kernel_started_ahead_is_a_fresh_kernel_with_its_libraries(tmp_path: Path) -> None:
    pool = KernelPool(2, {"MIMAMORI_TEST": "yes"})
    try:
        assert pool.prepare("step", ["json", "colorsys"])
        assert pool.prepare("other", ["json"]) and not pool.prepare("third", ["json"]), "at most `size` wait"
        nb = _notebook(tmp_path / "in.ipynb",
                       "import os, sys\nprint(sorted(m for m in ('json', 'colorsys') if m in sys.modules), "
                       "[k for k in dir() if 'import' in k or k == 'preload'], os.environ.get('MIMAMORI_TEST'), "
                       "os.getcwd())")
        held = {}

        def kernel():
            held["km"] = pool.take("step")
            return held["km"]

        secs, peak = execute(nb, tmp_path / "out.ipynb", {}, {}, tag="t", kernel=kernel)
        pid = held["km"].provisioner.pid if held["km"].provisioner else None
        out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
        code = [c for c in out.cells if c.cell_type == "code"]
        text = code[-1].outputs[0]["text"]
        assert "['colorsys', 'json'] [] yes " + str(paths.NOTEBOOKS) in text
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "the warm-up is not counted"
        assert peak and peak > 10 and secs > 0
        assert pool.take("step") is None, "a kernel runs one notebook"
        other = pool.take("other")
        other_pid = other.provisioner.pid
        pool.prepare("later", ["json"])
    finally:
        pool.close()
    assert pid is None or not _alive(pid)
    import asyncio

    asyncio.run(other.shutdown_kernel(now=True))
    assert not _alive(other_pid)


def test_a_discarded_or_unused_kernel_is_stopped() -> None:
    pool = KernelPool(2, {})
    pool.prepare("a", ["json"])
    pool.prepare("b", ["json"])
    km = pool._prepared["a"].result()
    pid = km.provisioner.pid
    pool.discard("a")
    pool.close()
    later = pool._starter
    assert not _alive(pid) and later is not None
    assert pool.waiting() == set()


def test_no_pool_starts_nothing() -> None:
    pool = KernelPool(0, {})
    assert not pool.prepare("a", ["json"]) and pool.take("a") is None
    pool.close()


@pytest.mark.parametrize("module", ["papermill", "nbconvert"])
def test_the_runner_does_without_the_slow_iri_check(module: str) -> None:
    """jsonschema's optional rfc3987-syntax builds Lark parsers at import (1–2 s per run); notebooks are still
    validated."""
    code = ("import sys\nfrom mimamori_lib.pipeline.kernel import without_iri_check\nwithout_iri_check()\n"
            f"import {module}, nbformat\nnb = nbformat.v4.new_notebook()\nnbformat.validate(nb)\n"
            "assert sys.modules.get('rfc3987_syntax') is None, sys.modules.get('rfc3987_syntax')\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=paths.ROOT)


def test_a_forked_kernel_runs_a_notebook_as_a_started_one_would(tmp_path: Path) -> None:
    """Inline figures, the run's environment and folder, its own process group, Python's random re-seeded, the
    step's libraries; the fork server and every kernel are gone after the pool closes."""
    pool = KernelPool(1, {"MIMAMORI_TEST": "yes"}, fork=("pandas", "matplotlib.pyplot", "mimamori_lib.plots"))
    nb = _notebook(tmp_path / "in.ipynb",
                   "import os, random, sys\nimport pandas as pd\nfrom mimamori_lib.plots import barh\n"
                   "ax = barh(pd.Series([1, 2], index=['あ', 'い']), '題', '人数')\n"
                   "print(os.environ.get('MIMAMORI_TEST'), os.getcwd(), os.getpgid(0) == os.getpid(), "
                   "'json' in sys.modules, random.random())")
    pids, texts = [], []
    try:
        for i in range(2):
            pool.prepare(i, ["json"])

            def kernel(i=i):
                km = pool.take(i)
                pids.append(km.provisioner.pid)
                return km

            execute(nb, tmp_path / f"out{i}.ipynb", {}, {}, tag=f"f{i}", kernel=kernel)
            out = nbformat.read(tmp_path / f"out{i}.ipynb", as_version=4).cells[1].outputs
            assert [o["output_type"] for o in out] == ["stream", "display_data"], out
            assert "image/png" in out[1]["data"]
            texts.append(out[0]["text"].split())
        server = pool._server
        assert server is not None and server._proc.pid not in pids
    finally:
        pool.close()
    assert texts[0][:4] == ["yes", str(paths.NOTEBOOKS), "True", "True"]
    assert texts[0][4] != texts[1][4], "each fork draws its own random numbers"
    assert server._proc.poll() is not None and not any(_alive(p) for p in pids)


def test_a_forked_kernel_exits_when_the_server_does(tmp_path: Path) -> None:
    import asyncio
    import time

    pool = KernelPool(1, {}, fork=("json",))
    pool.prepare("a", ["json"])
    km = pool.take("a")
    pid = km.provisioner.pid
    pool.close()  # the kernel was taken but never run: the server's end is its end
    t0 = time.monotonic()
    while _alive(pid) and time.monotonic() - t0 < 10:
        time.sleep(0.2)
    assert not _alive(pid)
    asyncio.run(km.cleanup_resources())
