"""The first lines of every notebook: logging configured in the kernel (the library's lines reach the executed
notebook and the run's log file), and the run's parameters loaded the same way in papermill and JupyterLab."""

from __future__ import annotations

import logging
import os
import sys

from .params import Params, load_params, reads

LOG_ENV = "MIMAMORI_RUN_LOG"
QUIET = ("papermill", "traitlets", "matplotlib", "asyncio", "numexpr", "urllib3", "fontTools", "PIL", "splink", "duckdb")


def setup_logging() -> None:
    """Log INFO to stderr (kept in the executed notebook, left out of its HTML) and, when the runner names one, to
    the run's log file."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        if getattr(h, "_mimamori", False):
            root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    handlers = [console]
    if os.environ.get(LOG_ENV):
        f = logging.FileHandler(os.environ[LOG_ENV], encoding="utf-8")
        f.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handlers.append(f)
    for h in handlers:
        h._mimamori = True
        root.addHandler(h)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def start(params_path: str, overrides: dict | None = None) -> Params:
    """Configure logging and load the run's parameters (the notebook's ``parameters`` cell names them)."""
    setup_logging()
    reads.start_from_env()
    return load_params(params_path, overrides)
