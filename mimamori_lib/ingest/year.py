"""One fiscal year: every source of the registry, the registry first; outputs and the processed tables."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..catalogue import datasets, notices
from ..catalogue.keys import ensure_key
from ..catalogue.registry import load_registry
from ..params import Params
from ..rights import requests
from ..rights.apply import APPLIED, SET_ASIDE, YearRights
from ..rights.notify import problem_table, write_correction_notices
from ..rights.requests import Problem
from ..text.gaiji import load_table as load_gaiji
from .completeness import RequiredSourceError, check_required, shrink_warnings
from .parallel import each_source
from .source import SourceResult

log = logging.getLogger(__name__)
STEP = "10_ingest"


@dataclass
class IngestResult:
    fiscal_year: int
    sources: dict[str, SourceResult]
    seconds: float
    corrections: pd.DataFrame = field(default_factory=pd.DataFrame)   # 訂正 applied or set aside, and 意見 (restricted)
    request_problems: list[Problem] = field(default_factory=list)     # rows of the request files that were not usable
    children_stopped: int = 0                                        # children under an active 利用停止

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([r.summary_row() for r in self.sources.values()])

    def quarantine(self) -> pd.DataFrame:
        qs = [r.quarantine for r in self.sources.values() if r.quarantine is not None and len(r.quarantine)]
        cols = ["source", "row", "line", "column", "value", "reason"]
        return pd.concat(qs, ignore_index=True)[cols] if qs else pd.DataFrame(columns=cols)


def run(p: Params, write: bool = True) -> IngestResult:
    """Ingest every source of the params' fiscal year; write outputs under ``<out>/processed/<fy>/``."""
    t0 = time.perf_counter()
    registry = load_registry(p)
    raw_dir = p.raw_year
    key = ensure_key(p)
    if not raw_dir.exists():
        log.error("入力フォルダがありません: %s", raw_dir)
    results: dict[str, SourceResult] = {}
    order = sorted(registry, key=lambda s: 0 if registry[s].get("role") == "registry" else 1)
    gaiji = load_gaiji(p.ingest.gaiji)
    rights = YearRights.of(requests.read(p), p.fiscal_year, key, dt.date.today())
    for i, (sid, r) in enumerate(each_source(p, registry, order, key, gaiji, rights), 1):
        results[sid] = r
        if r.columns_refused:
            log.info("  %s: 読み込まない列 %s", r.path, "・".join(r.columns_refused))
        log.info("[取込 %2d/%d] %-28s %-7s 読込 %6d 行, 取込 %6d, 隔離 %4d (%.2f 秒)%s", i, len(order), r.path, r.status,
                 r.rows_read, r.rows_loaded, r.rows_quarantined, r.seconds, f"  {r.message}" if r.message else "")
    check_required(p, registry, results)
    reg_id = next(s for s in order if registry[s].get("role") == "registry")
    warnings = shrink_warnings(p, registry, results, results[reg_id].table)
    for sid, w in warnings.items():
        results[sid].warning = w
    corrections = rights.finish(datasets.read(p, "corrections"), dt.datetime.now())
    res = IngestResult(p.fiscal_year, results, round(time.perf_counter() - t0, 2), corrections, rights.problems,
                       len({s.atena for s in rights.stops}))
    if write:
        write_outputs(p, res)
        notices.clear(p, STEP)
    messages = [f"FY{p.fiscal_year} {results[sid].path}: {w}" for sid, w in warnings.items()]
    messages += rights_messages(p, res)
    unmapped = [r for r in results.values() if r.gaiji_unmapped]
    if unmapped:
        messages.append(f"FY{p.fiscal_year}: 外字の対応表にない私用領域の文字 (外字) が残っています: "
                        + "・".join(f"{r.path} ({r.gaiji_unmapped} 文字)" for r in unmapped)
                        + "。リストでは 〓 と表示します。params の ingest.gaiji の表に加えてください")
    not_loaded = [r for r in results.values() if r.status in ("missing", "error")]
    if not_loaded:
        messages.insert(0, f"FY{p.fiscal_year}: 読み込めなかったファイル: " + "・".join(f"{r.path} ({r.message})" for r in not_loaded))
    for msg in messages:
        if write:
            notices.add(p, STEP, msg)
        else:
            log.warning("%s", msg)
    if warnings and p.ingest.fail_on_shrink:
        raise RequiredSourceError("行数が大きく減ったファイルがあるため中止しました (ingest.fail_on_shrink: true): "
                                  + "・".join(results[s].path for s in warnings))
    return res


def rights_messages(p: Params, res: IngestResult) -> list[str]:
    """What the run did with the family's requests, in counts (never a source or a value)."""
    out = []
    c = res.corrections
    if len(c):
        applied, aside = int((c["status"] == APPLIED).sum()), int((c["status"] == SET_ASIDE).sum())
        out.append(f"FY{p.fiscal_year}: 訂正 {applied} 件を適用しました" + (f"。{aside} 件は適用できませんでした (理由は "
                                                                           f"{datasets.path(p, 'corrections_quarantine')})" if aside else ""))
    other = len(res.request_problems) - (int((c["status"] == SET_ASIDE).sum()) if len(c) else 0)
    if other > 0:
        out.append(f"FY{p.fiscal_year}: 訂正・利用停止の表に使えない行が {other} 件あります (理由は "
                   f"{datasets.path(p, 'corrections_quarantine')})")
    if res.children_stopped:
        out.append(f"FY{p.fiscal_year}: 利用停止中のこども {res.children_stopped} 人の記録は読み込んでいません")
    return out


def write_outputs(p: Params, res: IngestResult) -> Path:
    """Parquet per source, the restricted identity table, quarantine.csv and ingest_summary.csv (a source not loaded
    this time has no table: an earlier run's is removed)."""
    idents = []
    for sid, r in res.sources.items():
        datasets.write(p, f"table:{sid}", r.table)
        if r.identity is not None:
            idents.append(r.identity)
    if idents:
        ident = pd.concat(idents, ignore_index=True)
        for c in ident.columns:
            if ident[c].dtype == object:
                ident[c] = ident[c].astype("string[pyarrow]")
        datasets.write(p, "identity", ident)
    datasets.write(p, "quarantine", res.quarantine())
    datasets.write(p, "ingest_summary", res.summary())
    datasets.write(p, "corrections", res.corrections if len(res.corrections) else None)
    datasets.write(p, "corrections_quarantine", problem_table(p, res.request_problems))
    write_correction_notices(p, res.corrections)
    log.info("取込結果を書き出しました: %s", p.processed)
    return p.processed
