"""A year's sources one after another, the registry first — or, in a big city, the other sources in a second
process while this one reads the registry.

Reading, checking and converting an export is Python work on one core: at 500,000 children the registry takes about
30 s and the other sources together about as long. They need two things from the registry: the children a family's
request names, as the registry holds them (:meth:`~mimamori_lib.rights.apply.YearRights.learn_registry`, which the
second process learns from the registry's cells itself), and the family names it shows with a space, which split
the few unspaced names (made again here once the registry is done: :func:`.source.split_again`). What applying the
requests did in the second process is added to this process's record in the sources' order, so the outputs are the
ones of reading the sources one after another. The sources travel between the processes through a pipe, never a
file; a second process that fails leaves its sources to this one.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import datetime as dt
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from ..params import City, Params, reads
from ..rights.apply import RightsDone, YearRights
from ..text.reading import SourceError
from .source import SourceResult, ingest_source, known_surnames, read_cells, split_again

log = logging.getLogger(__name__)
NO_SURNAMES: dict[str, set] = {"family": set(), "family_kana": set()}
_rights: YearRights | None = None  # the second process's copy of the year's requests (set when it starts)


def each_source(p: Params, registry: dict[str, dict], order: list[str], key: bytes, gaiji: dict[str, str],
                rights: YearRights) -> Iterator[tuple[str, SourceResult]]:
    """Every source of ``order`` (the registry first) ingested, in that order."""
    first, others = order[0], order[1:]
    shared = (p.raw_year, key, p.city, p.reference_date, gaiji)
    if not beside_registry(p, [registry[s] for s in others]):
        known = NO_SURNAMES
        for sid in order:
            r = ingest_source(registry[sid], p.raw_year, key, known, p.city, p.reference_date, gaiji, rights)
            if sid == first:
                known = known_surnames(r.identity)
            yield sid, r
        return
    log.info("登録簿以外のファイルは、住民基本台帳と並行して別のプロセスで読み込みます (run.ingest_parallel_mb: %d)",
             p.run.ingest_parallel_mb)
    pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                                  initargs=(registry[first], p.raw_year, copy.deepcopy(rights)))
    try:  # (a run stopped half-way does not wait for the sources still queued)
        futures = [pool.submit(_ingest_other, registry[sid], *shared) for sid in others]
        r = ingest_source(registry[first], p.raw_year, key, NO_SURNAMES, p.city, p.reference_date, gaiji, rights)
        known = known_surnames(r.identity)
        yield first, r
        stopped = False
        for i, (sid, future) in enumerate(zip(others, futures, strict=True)):
            if not stopped:
                try:
                    r, done = future.result()
                except Exception as e:  # noqa: BLE001 - the second process is only a head start
                    stopped = True
                    log.warning("別のプロセスが止まったため (%s)、残りの %d ファイルはこのプロセスで読み込みます",
                                type(e).__name__, len(others) - i)
            if stopped:
                yield sid, ingest_source(registry[sid], p.raw_year, key, known, p.city, p.reference_date, gaiji, rights)
                continue
            split_again(registry[sid], r, known)
            rights.add(done)
            yield sid, r
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def beside_registry(p: Params, specs: list[dict]) -> bool:
    """Whether the other sources are ingested in a second process: exports beside the registry larger than
    ``run.ingest_parallel_mb`` together, and a second core to do it on."""
    if p.run.ingest_parallel_mb is None or cores() < 2 or main_is_script():
        return False
    size = sum(f.stat().st_size for s in specs if (f := p.raw_year / s["path"]).is_file())
    return size / 1e6 > p.run.ingest_parallel_mb


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


def _start(registry_spec: dict, raw_dir: Path, rights: YearRights) -> None:
    """The second process: what a step reads recorded as in its kernel (the tests), and the children the year's
    requests name learnt from the registry's cells."""
    global _rights
    reads.start_from_env()
    if rights.wanted:
        try:
            table, _, _ = read_cells(registry_spec, raw_dir)
        except SourceError:  # the registry is not usable: the year stops on it (here nothing is learnt, as there)
            table = None
        if table is not None:
            rights.learn_registry(registry_spec, table)
    _rights = rights


def _ingest_other(spec: dict, raw_dir: Path, key: bytes, city: City | None, reference: dt.date | None,
                  gaiji: dict[str, str]) -> tuple[SourceResult, RightsDone]:
    """One source in the second process, and what applying the requests did there."""
    assert _rights is not None
    mark = _rights.mark()
    r = ingest_source(spec, raw_dir, key, NO_SURNAMES, city, reference, gaiji, _rights)
    return r, _rights.since(mark)
