"""One run per out dir at a time: an advisory lock (``flock``) on ``<out>/processed/.run.lock``, which holds the
process id of the run that has it. The operating system releases the lock when that process ends, however it ends,
so a lock left by a killed run is simply taken over (with a notice)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)


class RunLockedError(UserError):
    """Another run is writing into the same out dir."""


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 64).decode("ascii", errors="replace").strip()


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(f: Path, wait: bool = False) -> Iterator[None]:
    """Hold the out dir's lock (the catalogue's ``run_lock`` file) for the block; another run holding it stops this
    one at once with one line (or, with ``wait``, this one waits for it)."""
    import fcntl

    root = f.parent
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(f, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd) or "不明"
            if not wait:
                raise RunLockedError(f"別の実行が進行中です (PID {pid}): {root.parent}。終わってからもう一度実行するか、"
                                     "--wait を付けると終わるのを待って実行します") from None
            log.info("別の実行 (PID %s) が終わるのを待っています: %s", pid, root.parent)
            fcntl.flock(fd, fcntl.LOCK_EX)
        before = _holder(fd)
        if before and before != str(os.getpid()) and not _alive(before):
            log.warning("前回の実行 (PID %s) が途中で終わっていたため、実行中の印を引き継ぎました: %s", before, root.parent)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
