"""Repository rules: notebooks committed without outputs, thin, and parameterised the same way."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

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



def test_running_a_notebook_does_not_compile_iri_grammars() -> None:
    """The runner's libraries load without rfc3987-syntax (left out of the lock: 1.4 s on every run and every test
    that runs a notebook, for an IRI check mimamori never makes)."""
    lock = (paths.ROOT / "requirements.lock").read_text()
    assert not re.search(r"^(rfc3987-syntax|lark)==", lock, re.M)
    code = "import sys, papermill, nbconvert, jupyter_client; print('rfc3987_syntax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "rfc3987-syntax is installed: make install removes it"

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
    # nor a module another package keeps for itself (splink.internals, pandas._libs, …)
    inner = [f"{f.relative_to(paths.ROOT)}: {name}" for f in [*paths.PACKAGE.rglob("*.py"), *paths.ROOT.glob("benchmarks/*.py")]
             for n in ast.walk(ast.parse(f.read_text(encoding="utf-8")))
             for name in ([a.name for a in n.names] if isinstance(n, ast.Import) else
                          [n.module] if isinstance(n, ast.ImportFrom) and n.module and not n.level else [])
             if not name.startswith("mimamori") and any(part == "internals" or part.startswith("_")
                                                         for part in name.split(".")[1:])]
    assert not inner, inner


# the only file names written outside the catalogue, and why
NAMED_ELSEWHERE = {
    ("params/sections.py", "成果報告会_{fy}.html"): "a params default (the public report's name is the city's to set)",
    ("privacy/pseudonym.py", "mimamori.key"): "the key's default place (not data: the privacy layer, below the catalogue)",
}
FILE_NAME = re.compile(r"[\w./{}\-]+\.(?:parquet|csv|json|xlsx|html|log|lock|txt|key)\b(?!\.j2)")


def _string_constants(tree: ast.AST):
    """Every string a module writes into code (not its docstrings, not a pydantic field's description, not a message
    that describes a file's shape with <placeholders>)."""
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    described = {id(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                 if k.arg in ("description", "help")}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs | described and "<" not in n.value:
            yield n.lineno, n.value


def test_every_data_file_name_lives_in_the_catalogue() -> None:
    """Every file the pipeline writes or reads is named in the data catalogue (catalogue/datasets.py) and asked for by
    name: no other module writes a file name, whether the catalogue knows it or not (issue 35)."""
    found = []
    for f in sorted(paths.PACKAGE.rglob("*.py")):
        rel = f.relative_to(paths.PACKAGE).as_posix()
        if rel == "catalogue/datasets.py" or rel.startswith("synth/"):
            continue
        for line, text in _string_constants(ast.parse(f.read_text(encoding="utf-8"))):
            found += [f"{rel}:{line}: {name}" for name in FILE_NAME.findall(text) if (rel, name) not in NAMED_ELSEWHERE]
    assert not found, found
