"""What this process may do with other processes: how many cores it may use, and whether a new Python process may
import its main module again (what ``spawn`` and ``forkserver`` do)."""

from __future__ import annotations

import os
import sys


def cores() -> int:
    """The processor cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def main_is_script() -> bool:
    """Whether this process runs a script file (``python script.py``): a new process imports its main module, and a
    script without ``if __name__ == "__main__":`` would run again there. A kernel, ``python -m``, ``python -c`` and
    an installed command (``mimamori``, ``pytest``: pip writes them with that guard) start one safely."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is not None or path is None:
        return False
    return os.path.dirname(os.path.abspath(path)) != os.path.dirname(sys.executable)
