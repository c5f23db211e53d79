"""Shared fixtures: synthetic cities generated once per test session into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimamori_lib.synth.generate import generate

BEPPU_CHILDREN = 16696


@pytest.fixture(scope="session")
def beppu(tmp_path_factory) -> Path:
    """A Beppu-scale synthetic city (FY2024 and FY2025): ``<root>/raw`` and ``<root>/truth``."""
    root = tmp_path_factory.mktemp("beppu")
    generate(root / "raw", root / "synthetic_truth", children=BEPPU_CHILDREN, seed=7, years=[2024, 2025])
    return root


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A small synthetic city for quick checks."""
    root = tmp_path_factory.mktemp("small")
    generate(root / "raw", root / "synthetic_truth", children=800, seed=11, years=[2024, 2025])
    return root


@pytest.fixture(scope="session")
def beppu_processed(beppu: Path, tmp_path_factory):
    """The Beppu-scale city's FY2025 ingested and linked once: (params, ingest result, link result)."""
    import os

    from mimamori_lib.ingest import ingest_year
    from mimamori_lib.linkage import link_year
    from mimamori_lib.params import load_params

    out = tmp_path_factory.mktemp("beppu_out")
    os.environ["MIMAMORI_KEY_FILE"] = str(out / "test.key")
    p = load_params("params/fy2025.yaml", {"raw_dir": str(beppu / "raw"), "out_dir": str(out)})
    ingested = ingest_year(p)
    linked = link_year(p)
    return p, ingested, linked
