"""Plot helpers: Japanese labels (matplotlib-fontja) and the house style. The library imports this module only inside
the functions that draw (matplotlib and its Japanese font take about 0.5 s to import): a step that draws nothing does
not wait for them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib_fontja
import pandas as pd


def setup() -> None:
    """Japanese font and a quiet style for every figure."""
    matplotlib_fontja.japanize()
    # figures print at most 72 mm high: fonts large enough to stay at 8 pt or more when scaled to that
    plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.grid": True, "grid.alpha": 0.3, "font.size": 11, "axes.titlesize": 12,
                         "axes.labelsize": 11, "xtick.labelsize": 10.5, "ytick.labelsize": 10.5, "legend.fontsize": 10.5})


def barh(series: pd.Series, title: str, xlabel: str = "", ax=None, color: str = "#4c72b0"):
    """A horizontal bar chart of a labelled Series (largest at the top)."""
    setup()
    s = series.sort_values()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, max(2.0, 0.32 * len(s) + 0.8)))
    ax.barh(s.index.astype(str), s.to_numpy(), color=color)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return ax
