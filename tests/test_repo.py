"""Repository rules: notebooks committed without outputs, thin, and parameterised the same way."""

from __future__ import annotations

import json
import subprocess

import pytest

from mimamori_lib import paths

NOTEBOOKS = sorted(paths.NOTEBOOKS.glob("*.ipynb"))


def _tracked_notebooks() -> list:
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=paths.ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return NOTEBOOKS
    return [paths.ROOT / p for p in out.stdout.split()] or NOTEBOOKS


@pytest.mark.parametrize("nb", _tracked_notebooks(), ids=lambda p: p.name)
def test_notebook_committed_without_outputs(nb) -> None:
    data = json.loads(nb.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{nb.name}: outputs committed (run nbstripout)"
            assert cell.get("execution_count") is None, f"{nb.name}: execution counts committed"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_and_parameterised(nb) -> None:
    data = json.loads(nb.read_text(encoding="utf-8"))
    code = [c for c in data["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{nb.name}: exactly one cell tagged 'parameters'"
    src = "".join(tagged[0]["source"])
    assert 'params_path = "params/fy2025.yaml"' in src and "overrides" in src
    for c in code:
        s = "".join(c["source"])
        assert "def " not in s and "class " not in s, f"{nb.name}: logic belongs in mimamori_lib"
        assert len(s.splitlines()) <= 12, f"{nb.name}: a cell longer than a few lines"


def test_gitignore_keeps_data_out() -> None:
    text = (paths.ROOT / ".gitignore").read_text()
    for rule in ("data/raw/*", "data/processed/*", "data/synthetic_truth/", "reports/*", "*.key", "*.parquet", "*.xlsx"):
        assert rule in text


def test_lock_file_pins_every_dependency() -> None:
    """requirements.lock (installed by make) pins an exact version of every dependency that pyproject.toml allows."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (paths.ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pins[canonicalize_name(name)] = version.split(";")[0].strip()
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock (make lock)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} does not satisfy {req.specifier}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_nbformat(nb) -> None:
    import warnings

    import nbformat

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbformat.validate(nbformat.read(nb, as_version=4))


def test_no_private_api_of_another_package() -> None:
    """No override of a private method of jupyter_client, papermill or nbconvert, no patched module table: they break
    on the next upgrade, in a city that cannot call us (issue 23)."""
    import re

    from mimamori_lib import paths

    bad = re.compile(r"sys\.modules\[|_async_launch_kernel|_reconcile_connection_info|rfc3987|__new__\(cls")
    found = [f"{f.relative_to(paths.ROOT)}:{i}" for f in paths.PACKAGE.rglob("*.py")
             for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if bad.search(line)]
    assert not found, found


def test_every_data_file_name_lives_in_the_catalogue() -> None:
    """Code asks the data catalogue for a dataset; no module but the catalogue names an output file."""
    import re

    from mimamori_lib import paths
    from mimamori_lib.catalogue import datasets

    names = {d.file.rsplit("/", 1)[-1] for d in datasets.DATASETS.values() if "." in d.file}
    pattern = re.compile("|".join(re.escape(f'"{n}"') for n in names))
    found = [f"{f.relative_to(paths.ROOT)}:{i}" for f in paths.PACKAGE.rglob("*.py")
             if f.name != "datasets.py" and "synth" not in f.parts
             for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, found
