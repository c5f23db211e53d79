"""Where things live. Every path resolves from the package root, never from the working directory."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(__file__).resolve().parent
DATA = ROOT / "data"
RAW = DATA / "raw"
PROCESSED = DATA / "processed"
TRUTH = DATA / "synthetic_truth"
REPORTS = ROOT / "reports"
NOTEBOOKS = ROOT / "notebooks"
PARAMS = ROOT / "params"


def resolve(path: str | os.PathLike | None, default: Path) -> Path:
    """Resolve a user-given path: absolute stays, relative is taken from the repository root."""
    if path is None or str(path) == "":
        return default
    p = Path(path).expanduser()
    return p if p.is_absolute() else (ROOT / p)


def resolve_existing(path: str | os.PathLike) -> Path:
    """A file the user named: absolute stays; relative is taken from the working directory if it is there, else
    from the repository root (so ``params/fy2025.yaml`` works from the root and from ``notebooks/``)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (Path.cwd() / p).resolve() if (Path.cwd() / p).exists() else (ROOT / p)


def fy_dir(fy: int) -> str:
    """Folder name of a fiscal year, e.g. ``fy2025``."""
    return f"fy{int(fy)}"


def processed_dir(out_dir: str | os.PathLike | None, fy: int) -> Path:
    """``<out>/processed/<fy>/`` or, by default, ``data/processed/<fy>/``."""
    base = PROCESSED if out_dir is None else resolve(out_dir, ROOT) / "processed"
    return base / fy_dir(fy)


def reports_dir(out_dir: str | os.PathLike | None) -> Path:
    """``<out>/reports/`` or, by default, ``reports/``."""
    return REPORTS if out_dir is None else resolve(out_dir, ROOT) / "reports"
