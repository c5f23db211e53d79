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
    generate(root / "raw", root / "truth", children=BEPPU_CHILDREN, seed=7, years=[2024, 2025])
    return root


@pytest.fixture(scope="session")
def small_city(tmp_path_factory) -> Path:
    """A small synthetic city for quick checks."""
    root = tmp_path_factory.mktemp("small")
    generate(root / "raw", root / "truth", children=800, seed=11, years=[2024, 2025])
    return root
