"""The house shows its stages (issue 35): a package per stage with one entry point shape, a few base packages, the
layers enforced by import-linter (``pyproject.toml``), no import cycle inside a package."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
import typing

import pytest

from mimamori_lib import paths

STAGES = ("ingest", "linkage", "ranking", "extract", "meeting", "survey", "cases", "evaluation")
BASE_FILES = {"__init__.py", "cli.py", "paths.py", "errors.py", "arrays.py", "notebook.py"}


def test_the_import_contracts_are_kept() -> None:
    """Layers (base ← judgement ← records ← rights ← stages in notebook order ← pipeline, synth ← cli) and no cycle
    between the modules of any package (in a process of its own: import-linter changes the logging set-up of the
    process it runs in)."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(paths.ROOT / 'pyproject.toml')!r}, no_cache=True, no_logo=True))")
    r = subprocess.run([sys.executable, "-c", code], cwd=paths.ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_module_outside_a_package_but_the_cli_and_the_base_files() -> None:
    loose = {f.name for f in paths.PACKAGE.glob("*.py")}
    assert loose == BASE_FILES, sorted(loose - BASE_FILES)


def test_every_notebook_has_its_stage_package() -> None:
    numbered = sorted(f.stem for f in paths.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert [n.split("_", 1)[1] for n in numbered] == ["ingest", "link", "ranking", "extract", "meeting", "survey",
                                                      "cases", "evaluation"]
    for stage in STAGES:
        assert (paths.PACKAGE / stage / "__init__.py").is_file(), stage


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_the_same_entry_point(stage: str) -> None:
    """``run(p, write=True) -> a typed result`` (a dataclass), nothing else to learn per stage."""
    mod = importlib.import_module(f"mimamori_lib.{stage}")
    run = mod.run
    sig = inspect.signature(run)
    assert list(sig.parameters) == ["p", "write"] and sig.parameters["write"].default is True, sig
    result = typing.get_type_hints(run)["return"]
    assert dataclasses.is_dataclass(result), f"{stage}.run returns {result}, not a dataclass"
