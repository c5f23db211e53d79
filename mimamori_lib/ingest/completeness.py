"""Nothing lost silently: required sources, and sources that shrank.

A required source (the resident registry always; others as params say) that is missing, unreadable, empty or
header-only stops the run at ingestion with one line naming the file and the fix. Every other source is compared
with the previous year's export of the same file (when that year was processed) and, where the registry says
which children it covers (``covers: {grades: [1, 9], share: 0.95}``), with the registry's children of those school
grades. A drop beyond ``ingest.shrink_warning`` (default 20%) is a warning: a failed copy (an attendance file cut to
a fifth) would otherwise shrink the list without a word.
"""

from __future__ import annotations

import pandas as pd

from ..catalogue import datasets
from ..catalogue.ages import school_grade
from ..errors import InputError
from ..params import Params
from .source import SourceResult


class RequiredSourceError(InputError):
    """A source the run cannot do without is missing, unreadable or empty."""


def check_required(p: Params, registry: dict[str, dict], results: dict[str, SourceResult]) -> None:
    """Stop when the resident registry (or a source params mark required) cannot be used."""
    required = [s for s, spec in registry.items() if spec.get("role") == "registry"] + list(p.ingest.required_sources)
    for sid in dict.fromkeys(required):
        r = results.get(sid)
        if r is None:
            raise RequiredSourceError(f"必須のファイル {sid} が登録簿 ({p.ingest.registry}) にありません")
        spec = registry[sid]
        f = p.raw_year / spec["path"]
        who = f"{spec.get('title', sid)} ({spec.get('department', '')})"
        if r.status in ("missing", "absent"):
            why = "がありません"
        elif r.status == "error":
            why = f"を読めません ({r.message})"
        elif r.rows_loaded == 0:
            why = "にデータ行がありません (空、またはヘッダーのみ)" if r.rows_read == 0 else "の行がすべて不備のため隔離されました"
        else:
            continue
        raise RequiredSourceError(f"{who} のファイル{why}: {f}。このファイルがないと処理できません。担当課から受け取った"
                                  "エクスポートをそのままこの場所に置いて、もう一度実行してください")


def _previous_rows(p: Params) -> dict[str, int]:
    """Rows read per file in the previous fiscal year's ingestion (when it was processed)."""
    s = datasets.read(p, "ingest_summary", fy=p.fiscal_year - 1)
    if s is None:
        return {}
    s = s[s["status"] == "loaded"]
    return dict(zip(s["source"], pd.to_numeric(s["rows_read"]).astype(int), strict=True))


def shrink_warnings(p: Params, registry: dict[str, dict], results: dict[str, SourceResult],
                    registry_table: pd.DataFrame | None) -> dict[str, str]:
    """Per source, a Japanese warning when it has markedly fewer rows than last year or than the children it
    should cover (empty dict when all is as expected)."""
    limit = p.ingest.shrink_warning
    prev = _previous_rows(p)
    grades = (school_grade(registry_table["birth_date"], p.fiscal_year) if registry_table is not None and len(registry_table)
              else pd.Series(dtype=int))
    out: dict[str, str] = {}
    for sid, r in results.items():
        if r.status != "loaded":
            continue
        spec = registry[sid]
        notes = []
        before = prev.get(r.path)
        if before and before >= 20 and r.rows_read < before * (1 - limit):
            notes.append(f"前年度 {before:,} 行 → 今年度 {r.rows_read:,} 行 ({1 - r.rows_read / before:.0%} 減)")
        cov = spec.get("covers")
        if cov and len(grades):
            lo, hi = cov["grades"]
            population = int(grades.between(lo, hi).sum())
            expected = population * float(cov.get("share", 1.0))
            if expected >= 20 and r.rows_read < expected * (1 - limit):
                notes.append(f"対象学年 ({lo}〜{hi}年) の住民 {population:,} 人に対し {r.rows_read:,} 行 (想定 {expected:,.0f} 行前後)")
        if notes:
            out[sid] = "行数が大きく減っています: " + "、".join(notes) + "。ファイルの一部しか書き出されていない可能性があります"
    return out
