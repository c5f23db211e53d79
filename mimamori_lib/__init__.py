"""mimamori: こども見守り analytical suite."""

from importlib.metadata import PackageNotFoundError, version

import pandas as pd

try:
    __version__ = version("mimamori")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without an install
    __version__ = "0.0.0"

# text as Arrow-backed strings: a fraction of the memory of Python string objects (names, readings and addresses of
# hundreds of thousands of people), and the string operations run in Arrow's kernels
pd.options.mode.string_storage = "pyarrow"
