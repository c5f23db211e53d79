"""The demo's stand-ins for staff during ``mimamori report`` on a marked synthetic city: after extraction, the
schools answer the hearing forms and the meeting fills in the list; after the meeting, staff write case records.
Each is written only when nothing was saved for it yet (as staff save once), and only into a marked folder."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..catalogue import datasets
from ..params import Params, run_years, year_params
from .marker import truth_root

log = logging.getLogger(__name__)


@dataclass
class DemoStaff:
    """Hooks for the runner (after a step of a year). A hook that writes what its own step reads (the hearing
    answers, read by 30_extract) makes the runner run that step again before the steps after it."""

    base: Params

    def hooks(self, node: Callable) -> dict:
        years = run_years(self.base)
        return {**{node(fy, "30_extract"): (lambda fy=fy: self.after_extraction(fy)) for fy in years},
                **{node(fy, "35_meeting"): (lambda fy=fy: self.after_meeting(fy)) for fy in years}}

    def after_extraction(self, fy: int) -> None:
        from .kikitori import fill_kikitori
        from .meeting import fill_decisions

        p = year_params(self.base, fy)
        truth = truth_root(p.raw_dir)
        if not datasets.saved_files(p, "hearing") and fill_kikitori(p, truth):
            log.info("FY%d 学校からの聞き取りの回答 (合成データ) を記入しました: %s", fy, datasets.saved_target(p, "hearing"))
        if datasets.exists(p, "extraction_xlsx") and not datasets.saved_files(p, "decisions"):
            log.info("FY%d 支援担当者会議の判断 (合成データ) を記入しました: %s", fy, fill_decisions(p, truth))

    def after_meeting(self, fy: int) -> None:
        from .cases import fill_cases

        p = year_params(self.base, fy)
        if not datasets.saved_files(p, "cases"):
            f = fill_cases(p)
            if f is not None:
                log.info("FY%d 事例記録 (合成データ) を記入しました: %s", fy, f)
