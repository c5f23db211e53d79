"""The runner cannot skip what changed (issue 35): what each step declares it reads (pipeline/steps.py) covers what
it really read on the small city — every params value, every dataset of its own year and of earlier years, every
file in the exports folder and every data file a param names — recorded while the session's demo run ran
(``MIMAMORI_RECORD_READS``, :mod:`mimamori_lib.params.reads`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimamori_lib import paths
from mimamori_lib.catalogue import datasets
from mimamori_lib.params import load_params, run_years, year_params
from mimamori_lib.params.loading import chain
from mimamori_lib.pipeline.steps import STEPS

# params a step may read without declaring them, and why
UNDECLARED = {
    "raw_dir": "a folder, not a value: its files are fingerprinted",
    "out_dir": "a folder, not a value: its files are fingerprinted",
    "key_file": "the key is fingerprinted by its id (uses_key)",
    "notebooks": "the run's steps themselves",
    "run": "how steps are run (workers), not what they compute",
    "privacy": "file modes, not content",
    "synth": "the synthetic demo's stand-ins (hooks, not steps)",
    "records.meeting_basis": "only the 提供記録 (the city's history of provision, not a step's output)",
    "records.staff_basis": "only the 提供記録",
    "records.disclosure_basis": "only the 提供記録",
}
# datasets a step may read without declaring them, and why
UNDECLARED_DATASETS = {datasets.RECORDS: "the 提供記録 is history, not an input", datasets.RUNNER: "the run manifest",
                       datasets.RIGHTS: "開示 workbooks (removed for a stopped child, never read)"}


def _reads(smoke_run: Path) -> dict[tuple[int, str], list[str]]:
    folder = smoke_run / "reads"
    out = {}
    for f in sorted(folder.glob("*.txt")):
        fy, step = f.stem.split("_", 1)
        out[(int(fy), step)] = f.read_text(encoding="utf-8").splitlines()
    return out


def _covered(key: str, declared: tuple[str, ...]) -> bool:
    return any(key == d or key.startswith(d + ".") for d in declared)


@pytest.fixture(scope="module")
def recorded(smoke_run: Path):
    base = load_params("params/smoke.yaml", {"raw_dir": str(smoke_run / "raw"), "out_dir": str(smoke_run / "out")})
    reads = _reads(smoke_run)
    assert {s for _, s in reads} == set(STEPS), "every step was recorded"
    return base, reads


def test_every_params_value_a_step_reads_is_declared(recorded) -> None:
    base, reads = recorded
    gaps = {}
    for (fy, step), lines in reads.items():
        s = STEPS[step]
        keys = {x.split(" ", 1)[1] for x in lines if x.startswith("param ")}
        missing = sorted(k for k in keys if not _covered(k, (*s.params, *s.data_files))
                         and k.split(".")[0] not in UNDECLARED and k not in UNDECLARED)
        named = sorted(k for k in keys if k.split(".")[0] not in UNDECLARED and _is_file_param(year_params(base, fy), k)
                       and k not in s.data_files)
        if missing or named:
            gaps[f"{fy} {step}"] = missing + [f"{k} (its file's content)" for k in named]
    assert not gaps, gaps


def _is_file_param(p, key: str) -> bool:
    """A param that names a data file (registry, 外字 table, indicator catalogue, narrative): the step must hash the
    file's content, not only its name."""
    from mimamori_lib.params.sections import _Section

    field = key.rsplit(".", 1)[-1]
    owner = p
    for part in key.split(".")[:-1]:
        owner = owner.get(part) if isinstance(owner, dict) else getattr(owner, part, None)
    ann = type(owner).model_fields[field].annotation if isinstance(owner, _Section) else None
    return ann in (Path, Path | None)


def test_every_dataset_a_step_reads_is_its_own_or_declared(recorded) -> None:
    base, reads = recorded
    years = run_years(base)
    gaps = {}
    for (fy, step), lines in reads.items():
        s, p = STEPS[step], year_params(base, fy)
        own = {d.name for d in s.outputs(p)} | {d.name for d in s.upstream(p)}
        for x in lines:
            if not x.startswith("dataset "):
                continue
            _, y, name = x.split(" ", 2)
            y = int(y)
            if datasets.dataset(name).step in UNDECLARED_DATASETS or y not in years or y > fy:
                continue
            if y == fy:
                ok = name in own
            else:
                q = year_params(base, y)
                ok = name in {d.name for a in s.reads_of(y, years, fy) for d in STEPS[a].outputs(q) if d.downstream}
            if not ok:
                gaps.setdefault(f"{fy} {step}", []).append(f"{y} {name}")
    assert not gaps, gaps


def test_every_file_a_step_opens_is_fingerprinted(recorded, smoke_run: Path) -> None:
    """Exports and what staff saved (its year's folder: the step's raw files; the requests at the top: its state),
    and data files a param names (with every file they extend)."""
    base, reads = recorded
    raw = (smoke_run / "raw").resolve()
    gaps = {}
    for (fy, step), lines in reads.items():
        s, p = STEPS[step], year_params(base, fy)
        raw_files = {str(f.resolve()) for f in s.raw_files(p)}
        data = set()
        for d in s.data_files:
            v = p
            for part in d.split("."):
                v = getattr(v, part)
            data |= {str(f) for f in chain(Path(v))} if v is not None and Path(v).suffix == ".yaml" else \
                ({str(Path(v).resolve())} if v is not None else set())
        for x in lines:
            if not x.startswith("file "):
                continue
            f = Path(x.split(" ", 1)[1])
            if f.is_relative_to(raw / f"fy{fy}"):
                ok = str(f) in raw_files
            elif f.parent == raw and f.stem in datasets.SAVED_ROOT.values():
                ok = s.state is not None
            elif f.is_relative_to(paths.PARAMS) and f.name not in ("common.yaml", "fy2024.yaml", "fy2025.yaml", "smoke.yaml"):
                ok = str(f) in data
            else:
                continue
            if not ok:
                gaps.setdefault(f"{fy} {step}", []).append(str(f))
    assert not gaps, gaps
