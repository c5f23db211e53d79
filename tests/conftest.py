"""Shared fixtures: synthetic cities generated once per test session into a temporary folder."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from mimamori_lib.params import reads
from mimamori_lib.synth.generate import generate

BEPPU_CHILDREN = 16696
SLOW_FIXTURES = {"beppu", "beppu_processed", "smoke_run", "city_run", "hostile"}


def pytest_collection_modifyitems(config, items) -> None:
    """Beppu-scale tests and end-to-end notebook runs are `slow`: `pytest -m "not slow"` is the quick loop. Spark
    tests run wherever Java 17+ and pyspark are installed, and are skipped with the reason elsewhere (make test-spark
    asks for them: there a missing Java or pyspark is a failure)."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    asked = "spark" in (config.getoption("markexpr") or "")
    why = spark_missing()
    for item in items:
        if item.get_closest_marker("spark") and why and not asked:
            item.add_marker(pytest.mark.skip(reason=why))


def spark_missing() -> str:
    """Why the Spark backend cannot run here ("" when it can: Java 17 or later and pyspark)."""
    import importlib.util
    import re
    import subprocess

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark がありません (pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "Java がありません (Spark には Java 17 以降が必要です)"
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    if not m or int(m[1]) < 17:
        return f"Java 17 以降が必要です ({out.splitlines()[0] if out else 'version unknown'})"
    return ""


T = TypeVar("T")


def _run_folder(tmp_path_factory) -> Path:
    """The test run's folder: with pytest-xdist (``-n``), the folder above every worker's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def once(tmp_path_factory, name: str, make: Callable[[Path], T]) -> tuple[Path, T]:
    """``make(folder)`` once per test run, whichever worker asks first (pytest-xdist's documented pattern for a
    session fixture made once: a lock file; the others wait, then read what it made). Its value is pickled beside
    it; a ``make`` that failed is tried again by the next to ask."""
    folder = _run_folder(tmp_path_factory) / name
    with open(folder.with_name(f"{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = folder / ".made.pickle"
        if made.exists():
            return folder, pickle.loads(made.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)  # what a failed make left
        folder.mkdir()
        value = make(folder)
        made.write_bytes(pickle.dumps(value))
        return folder, value


@pytest.fixture(scope="session", autouse=True)
def session_key(tmp_path_factory):
    """One pseudonym key for the whole test run, every worker (never the repository's data/mimamori.key); the
    environment is restored afterwards."""
    from mimamori_lib.privacy.pseudonym import new_key

    def make(folder: Path) -> None:
        new_key(folder / "test.key")

    key = once(tmp_path_factory, "key", make)[0] / "test.key"
    mp = pytest.MonkeyPatch()
    mp.setenv("MIMAMORI_KEY_FILE", str(key))
    yield key
    mp.undo()


@pytest.fixture(scope="session")
def beppu(tmp_path_factory) -> Path:
    """A Beppu-scale synthetic city (FY2024 and FY2025): ``<root>/raw`` and ``<root>/truth``."""
    def make(root: Path) -> None:
        generate(root / "raw", root / "synthetic_truth", children=BEPPU_CHILDREN, seed=7, years=[2024, 2025])

    return once(tmp_path_factory, "beppu", make)[0]


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A small synthetic city for quick checks."""
    def make(root: Path) -> None:
        generate(root / "raw", root / "synthetic_truth", children=800, seed=11, years=[2024, 2025])

    return once(tmp_path_factory, "small", make)[0]


@pytest.fixture(scope="session")
def beppu_processed(beppu: Path, tmp_path_factory):
    """The Beppu-scale city's FY2025 ingested and linked once: (params, ingest result, link result)."""
    from mimamori_lib import ingest, linkage
    from mimamori_lib.params import load_params

    def make(out: Path):
        p = load_params("params/fy2025.yaml", {"raw_dir": str(beppu / "raw"), "out_dir": str(out)})
        return p, ingest.run(p), linkage.run(p)

    return once(tmp_path_factory, "beppu_out", make)[1]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """`mimamori report --demo` on the small synthetic city of params/smoke.yaml: every notebook of both years."""
    from mimamori_lib import cli

    def make(root: Path) -> None:
        old_umask = os.umask(0o022)  # a shared server's usual umask: internal outputs must still be 600/700
        os.environ[reads.FOLDER_ENV] = str(root / "reads")  # what each step really reads (tests/test_declarations.py)
        try:
            code = cli.main(["report", "--demo", "--params", "params/smoke.yaml", "--raw-dir", str(root / "raw"),
                             "--out-dir", str(root / "out")])
        finally:
            os.environ.pop(reads.FOLDER_ENV, None)
            os.umask(old_umask)
        assert code == 0

    return once(tmp_path_factory, "smoke", make)[0]


@pytest.fixture
def city(smoke_run: Path, tmp_path: Path) -> Path:
    """A copy of the small city's exports and of both years' outputs (as the demo left them), for a test to change."""
    shutil.copytree(smoke_run / "raw", tmp_path / "raw")
    shutil.copytree(smoke_run / "out", tmp_path / "out")
    return tmp_path


def checksums(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256."""
    import hashlib

    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(root.rglob("*")) if f.is_file()}


def _children(pid: int | str) -> list[str]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ends while it is read had no child left
            continue
    return out


def kernels_running() -> list[int]:
    """This process's kernels still running: its children that are kernels, and the children of its fork server
    (each a kernel forked from it: ``mimamori_lib.pipeline.forked``; another test may have left a JVM). A child that
    exits while it is read is not running."""
    out = []
    pending = [(pid, False) for pid in _children("self")]
    while pending:
        pid, forked = pending.pop()
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state == "Z":
            continue
        if not forked and b"multiprocessing.forkserver" in cmdline:  # (its command line names ipykernel's modules)
            try:
                pending += [(c, True) for c in _children(pid)]
            except FileNotFoundError:
                continue
        elif forked or b"ipykernel" in cmdline:
            out.append(int(pid))
    return out


@pytest.fixture(scope="session")
def city_run(smoke_run: Path, tmp_path_factory):
    """The small city's exports as a city hands them over — no synthetic mark — with a synthetic truth beside it
    (left by an earlier demo). Staff saved FY2024's meeting decisions; FY2025's meeting has not happened yet, and
    FY2025's exports carry the broken and hostile rows of :func:`tests.test_hostile.inject` (a stray quote, a 1 MB
    value, an impossible birth date, a negative count, names that Excel would run). Run with `mimamori report` under
    umask 022: (root, exit status, the raw folder's checksums before the run, the lines expected in quarantine)."""
    from mimamori_lib import cli
    from mimamori_lib.synth.marker import MARKER

    from .test_hostile import inject

    def make(root: Path):
        shutil.copytree(smoke_run / "raw", root / "raw")
        shutil.copytree(smoke_run / "synthetic_truth", root / "synthetic_truth")
        (root / "raw" / MARKER).unlink()
        shutil.rmtree(root / "raw" / "fy2025" / "shien")
        expected = inject(root / "raw")
        before = checksums(root / "raw")
        old_umask = os.umask(0o022)
        try:
            code = cli.main(["report", "--params", "params/fy2025.yaml", "--raw-dir", str(root / "raw"), "--out-dir",
                             str(root / "out")])
        finally:
            os.umask(old_umask)
        return code, before, expected

    root, (code, before, expected) = once(tmp_path_factory, "city", make)
    return root, code, before, expected
