"""What a step really reads, recorded while it runs — the proof that the runner's declarations are complete
(:mod:`mimamori_lib.pipeline.steps`): every params value a step reads, every dataset it asks the catalogue for, every
file it opens. Off unless ``MIMAMORI_RECORD_READS`` names a folder (the tests set it); then each kernel appends what it
reads, once each, to ``<folder>/<fy>_<step>.txt`` (``MIMAMORI_STEP``, set by the runner for each kernel).

Lines: ``param <dotted name>``, ``dataset <fy> <name>``, ``file <absolute path>``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

FOLDER_ENV, STEP_ENV = "MIMAMORI_RECORD_READS", "MIMAMORI_STEP"
_lock = threading.Lock()
_seen: set[str] = set()
_target: Path | None = None


def recording() -> bool:
    return _target is not None


def record(kind: str, what: str) -> None:
    """Note one read (once per kind and value)."""
    line = f"{kind} {what}"
    if _target is None or line in _seen:
        return
    with _lock:
        if line in _seen:
            return
        _seen.add(line)
        with open(_target, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _audit(event: str, args: tuple) -> None:
    if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
        if "r" in mode and "+" not in mode:
            record("file", os.path.abspath(os.fsdecode(args[0])))


def start_from_env() -> bool:
    """Start recording when the environment asks for it (once per process)."""
    global _target
    folder, step = os.environ.get(FOLDER_ENV), os.environ.get(STEP_ENV)
    if not folder or not step or _target is not None:
        return False
    Path(folder).mkdir(parents=True, exist_ok=True)
    _target = Path(folder) / (step.replace(":", "_").replace("/", "_") + ".txt")
    sys.addaudithook(_audit)  # public API (PEP 578): every open() of the process, once installed
    return True
