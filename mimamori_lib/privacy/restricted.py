"""Files that hold personal data: written completely or not at all, mode 600 in folders of mode 700, whatever the
umask.

Two places hold personal data: the processed tables (``<out>/processed/``; identities only in ``restricted/``) and the
internal reports (``reports/internal/``: extraction lists, assessment sheets, hearing forms, hand-over papers, the
名寄せ review queue, hearing quotes, follow-up tables, case records). Everything written there goes through
:func:`private_file` (by way of :mod:`mimamori_lib.catalogue.datasets`), which writes to a temporary name in the target folder under umask
077, sets mode 600 explicitly and renames the file into place (:func:`atomic_file`). Temporary files that may hold
identities live in a :func:`work_folder` of the out dir and are removed on success and on failure. :func:`audit`
finds files and folders left more open (by an older version, or copied by hand), warns, and fixes them when params
allow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)
DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_MARK = ".tmp"
KEEP = ".gitkeep"  # git's empty placeholder of a folder: it holds nothing


def private_dir(path: Path, root: Path | None = None) -> Path:
    """Create ``path`` (and its parents) and make it, and every folder between ``root`` and it, mode 700."""
    path = Path(path)
    if root is not None:
        Path(root).parent.mkdir(parents=True, exist_ok=True)  # above the private part: the usual modes
    with _umask(0o077):
        path.mkdir(parents=True, exist_ok=True)
    chain = [path]
    if root is not None:
        root = Path(root)
        p = path
        while p != root and root in p.parents:
            p = p.parent
            chain.append(p)
    for d in chain:
        if stat.S_IMODE(d.stat().st_mode) != DIR_MODE:
            os.chmod(d, DIR_MODE)
    return path


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def temporary_name(path: Path) -> Path:
    """A temporary name for ``path`` in its own folder, with the same suffix (writers that choose a format by the
    suffix still work): ``.scores.parquet.<random>.tmp.parquet``. Left only by a run that was killed; the next run
    removes them (:func:`remove_temporary`)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TMP_MARK}{path.suffix}")


def remove_temporary(root: Path) -> int:
    """Remove every temporary file or work folder a killed run left under ``root`` (never a finished file).
    Returns how many."""
    n = 0
    for f in list(Path(root).rglob(f".*{TMP_MARK}*")) if Path(root).is_dir() else []:
        if f.is_dir():
            shutil.rmtree(f, ignore_errors=True)
        else:
            f.unlink(missing_ok=True)
        n += 1
    return n


@contextlib.contextmanager
def work_folder(parent: Path, root: Path | None = None) -> Iterator[Path]:
    """A private (700) folder for temporary files that may hold identities (a database's spill files), inside the
    out dir's private folders rather than the system's temporary folder, and removed when the block ends — on
    success and on failure (a killed run's is removed by the next run: :func:`remove_temporary`)."""
    d = private_dir(Path(parent) / f".work-{os.getpid()}-{secrets.token_hex(3)}{TMP_MARK}", root)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Write a file completely or not at all: the block writes to a temporary name in the same folder, which is
    renamed into place when the block ends (a failure removes it; an earlier file stays as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():  # a folder replaces a folder: the old one is moved aside, then removed
            old = temporary_name(path)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        elif tmp.exists():
            os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def private_file(path: Path, root: Path | None = None) -> Iterator[Path]:
    """Write a file that names a child, completely or not at all: ``with private_file(f) as tmp: df.to_csv(tmp)``.
    The folder is made private (up to ``root``); the block writes to a temporary name in that folder, created under
    umask 077, set to mode 600 and renamed into place when the block ends (:func:`atomic_file`)."""
    path = Path(path)
    private_dir(path.parent, root)
    with atomic_file(path) as tmp, _umask(0o077):
        yield tmp
        if tmp.exists():
            os.chmod(tmp, DIR_MODE if tmp.is_dir() else FILE_MODE)


def write_text(path: Path, text: str, root: Path | None = None) -> Path:
    """A private text file (UTF-8)."""
    with private_file(path, root) as f:
        f.write_text(text, encoding="utf-8")
    return path


def too_open(root: Path) -> list[Path]:
    """Folders and files under ``root`` (itself included) that group or others can read, write or enter."""
    root = Path(root)
    if not root.exists():
        return []
    out = [root] if stat.S_IMODE(root.stat().st_mode) & 0o077 else []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if n != KEEP and not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077:
                out.append(p)
    return out


def audit(roots: list[Path], fix: bool) -> list[Path]:
    """Warn about every folder or file under ``roots`` more open than 700/600; set their modes when ``fix``.
    Returns what was found."""
    found = [p for r in roots for p in too_open(r)]
    if not found:
        return []
    shown = "、".join(str(p) for p in found[:5]) + (f" ほか {len(found) - 5} 件" if len(found) > 5 else "")
    if fix:
        for p in found:
            os.chmod(p, DIR_MODE if p.is_dir() else FILE_MODE)
        log.warning("個人を特定できるファイルの権限が広すぎたため修正しました (フォルダ 700・ファイル 600): %s", shown)
    else:
        log.warning("個人を特定できるファイルの権限が広すぎます (他のユーザーが読めます): %s。"
                    "chmod -R go-rwx で修正するか、params の privacy.fix_permissions を true にしてください", shown)
    return found
