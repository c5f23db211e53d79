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
