"""支援担当者会議 (35_meeting): the meeting's decisions read back from the filled list, and the hand-over papers
(検討結果の提供) for each recipient after it.

Modules: :mod:`.decisions` (reading and checking ``shien/kettei.xlsx``), :mod:`.handover` (the papers per recipient).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..judgement.scoring import saved_items
from ..params import Params
from .decisions import (
    REQUIRED,
    MeetingYear,
    decision_summary,
    quarantine_reasons,
    read_decisions,
    read_scores,
    read_year,
    write_decisions,
)
from .handover import write_papers


@dataclass
class MeetingResult:
    """What 35_meeting read and wrote."""

    scores: pd.DataFrame                  # the year's extraction
    year: MeetingYear                     # the decisions (None before the meeting), quarantined rows, a sentence
    papers: pd.DataFrame                  # hand-over papers and children per recipient

    @property
    def decisions(self) -> pd.DataFrame | None:
        return self.year.decisions


def run(p: Params, write: bool = True) -> MeetingResult:
    """The decisions read back (and saved), and the hand-over papers for each recipient."""
    scores = read_scores(p)
    year = read_year(p, scores)
    if not write:
        return MeetingResult(scores, year, pd.DataFrame(columns=["受け取り先", "票の数", "こども"]))
    write_decisions(p, year.decisions, year.quarantine)
    _, ev, catalogue = saved_items(p)
    return MeetingResult(scores, year, write_papers(p, year.decisions, ev, catalogue))


__all__ = ["REQUIRED", "MeetingResult", "MeetingYear", "decision_summary", "quarantine_reasons", "read_decisions",
           "read_scores", "read_year", "run"]
