"""The data catalogue (datasets): every file the pipeline writes, in one place (as Kedro's DataCatalog does) — its name, where
it lives in a year's folders, the step that writes it, and whether it is written only when there is data.

Code asks for a dataset by name (``datasets.read(p, "scores")``), never for a file name. Everything under
``<out>/processed/`` and ``reports/internal/`` is personal data (free text, decisions, exact dates, identities) and is
written through :func:`write`: mode 600 in 700 folders, to a temporary name first and renamed into place, so that a
step killed half-way never leaves a half-written file that looks finished. CSV files are formula-safe
(:mod:`.spreadsheet`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import paths
from ..output.spreadsheet import read_csv, write_csv
from ..params import Params, reads
from ..privacy.restricted import atomic_file, private_file

Place = Literal["processed", "internal", "reports"]


@dataclass(frozen=True)
class Dataset:
    """One file (or folder) of a year."""

    name: str
    file: str                      # relative to its place's folder of the year
    step: str                      # the step that writes it
    place: Place = "processed"     # processed: <out>/processed/<fy>/; internal: reports/internal/<fy>/; reports: reports/<fy>/
    optional: bool = False         # written only when there is data (absent otherwise)
    downstream: bool = True        # False: no later step reads it (only its own step's papers use it)
    per_year: bool = True          # False: one file for the out dir (<place>/<file>), kept across years
    member: str = ""               # a folder: how its files are named (``{school}.xlsx``)

    def path(self, p: Params, fy: int | None = None) -> Path:
        """Its file in the params' year (or in year ``fy`` of the same run's folders)."""
        if reads.recording():
            reads.record("dataset", f"{p.fiscal_year if fy is None else fy} {self.name}")
        base = {"processed": p.processed.parent, "internal": p.internal_root, "reports": p.reports}[self.place]
        if not self.per_year:
            return base / self.file
        return base / paths.fy_dir(p.fiscal_year if fy is None else fy) / self.file


RUNNER = "runner"                  # what the runner itself writes (not a step's output)
RECORDS = "records"                # the city's records, appended to by every step that writes a paper naming children
RIGHTS = "rights"                  # what answers a family's request (mimamori kaiji)
SOURCE_TABLE = "{source}.parquet"   # one per source of the registry, written by 10_ingest

DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("identity", "restricted/identity.parquet", "10_ingest"),
    Dataset("quarantine", "quarantine.csv", "10_ingest"),
    Dataset("ingest_summary", "ingest_summary.csv", "10_ingest"),
    Dataset("links", "links.parquet", "20_link"),
    Dataset("linkage_model", "linkage_model.json", "20_link", downstream=False),
    Dataset("linkage_meta", "linkage_meta.json", "20_link", downstream=False),
    Dataset("linkage_rates", "linkage_rates.csv", "20_link"),
    Dataset("review_decisions_report", "review_decisions_report.csv", "20_link", downstream=False),
    Dataset("review_pairs", "review_pairs.parquet", "20_link"),
    Dataset("match_weights_chart", "linkage_match_weights.html", "20_link", place="reports"),
    Dataset("items", "items.parquet", "25_ranking"),
    Dataset("evidence", "evidence.parquet", "25_ranking"),
    Dataset("ranking", "ranking.parquet", "25_ranking"),
    Dataset("ranking_model", "ranking_model.json", "25_ranking"),
    Dataset("ranking_backtest", "ranking_backtest.csv", "25_ranking", optional=True),
    Dataset("ranking_backtest_by_year", "ranking_backtest_by_year.csv", "25_ranking", optional=True),
    Dataset("ranking_fairness", "ranking_fairness.csv", "25_ranking", optional=True),
    Dataset("ranking_calibration", "ranking_calibration.csv", "25_ranking", optional=True),
    Dataset("ranking_judged", "ranking_judged.parquet", "25_ranking", optional=True),
    Dataset("scores", "scores.parquet", "30_extract"),
    Dataset("ranking_strata", "ranking_strata.csv", "30_extract", optional=True),
    Dataset("ranking_fairness_kinds", "ranking_fairness_kinds.csv", "30_extract", optional=True),
    Dataset("extraction_xlsx", "extraction.xlsx", "30_extract", place="internal"),
    Dataset("extraction_csv", "extraction.csv", "30_extract", place="internal"),
    Dataset("assessment", "assessment", "30_extract", place="internal", member="{extract_id}.html"),
    Dataset("review_queue", "review_queue.xlsx", "30_extract", place="internal", optional=True),
    Dataset("hearing_forms", "kikitori", "30_extract", place="internal", member="{school}.xlsx"),
    Dataset("hearing_answers", "restricted/kikitori.parquet", "30_extract", optional=True, downstream=False),
    Dataset("hearing_quarantine", "kikitori_quarantine.csv", "30_extract", downstream=False),
    Dataset("decisions", "decisions.parquet", "35_meeting", optional=True),
    Dataset("decisions_quarantine", "decisions_quarantine.csv", "35_meeting"),
    Dataset("handover", "teikyo", "35_meeting", place="internal", member="{recipient}.xlsx"),
    Dataset("survey_associations", "survey_associations.csv", "40_survey", optional=True),
    Dataset("survey_multivariable", "survey_multivariable.csv", "40_survey", optional=True),
    Dataset("cases_quarantine", "cases_quarantine.csv", "45_cases"),
    Dataset("follow_up", "follow_up.parquet", "45_cases", optional=True),
    Dataset("case_records", "restricted/jirei.parquet", "45_cases", optional=True),
    Dataset("case_template", "jirei_template.xlsx", "45_cases", place="internal", optional=True),
    Dataset("follow_up_xlsx", "follow_up.xlsx", "45_cases", place="internal", optional=True),
    Dataset("cases_report", "jirei.html", "45_cases", place="internal"),
    Dataset("public_audit", "public_audit.json", "50_evaluation"),
    Dataset("hearing_comments", "hearing_comments.csv", "50_evaluation", place="internal", optional=True),
    Dataset("run_manifest", "run_manifest.json", RUNNER, place="reports"),
    Dataset("notices", "notices.json", RUNNER),
    Dataset("key_record", "key_id.json", RUNNER, per_year=False),
    Dataset("run_lock", ".run.lock", RUNNER, per_year=False),
    Dataset("run_logs", "logs", RUNNER, place="reports", per_year=False, member="run-{stamp}.log"),
    Dataset("step_reports", "", RUNNER, place="reports", member="{step}.html"),
    Dataset("executed_notebooks", "", RUNNER, place="reports", member="{step}.ipynb"),
    # the family's rights (issue 31): corrections and opinions applied at ingestion, and whom to tell
    Dataset("corrections", "restricted/teisei.parquet", "10_ingest", optional=True),
    Dataset("corrections_quarantine", "teisei_quarantine.csv", "10_ingest", downstream=False),
    Dataset("correction_notices", "teisei_tsuchi.xlsx", "10_ingest", place="internal", optional=True,
            downstream=False),
    Dataset("disclosures", "kaiji", RIGHTS, place="internal", per_year=False, member="{atena}_{day}.xlsx"),
    # the records a city keeps (issue 32): every paper that named children, the file register, what was purged
    Dataset("ledger", "restricted/teikyo_kiroku.parquet", RECORDS, per_year=False),
    Dataset("ledger_lock", "restricted/.teikyo_kiroku.lock", RECORDS, per_year=False),
    Dataset("ledger_xlsx", "teikyo_kiroku.xlsx", RECORDS, place="internal", per_year=False),
    Dataset("file_register", "個人情報ファイル簿.xlsx", RECORDS, place="reports", per_year=False),
    Dataset("purged", "purged.json", RECORDS, per_year=False),
    Dataset("purge_log", "purge_log.csv", RECORDS, place="reports", per_year=False),
)}


def dataset(name: str) -> Dataset:
    """A dataset of the catalogue; ``table:<source>`` is a source's table (written by 10_ingest)."""
    if name.startswith("table:"):
        return Dataset(name, SOURCE_TABLE.format(source=name[6:]), "10_ingest", optional=True)
    return DATASETS[name]


def member(name: str, **parts: object) -> str:
    """The name of one file of a folder dataset (``member("hearing_forms", school="北部中学校")``)."""
    return dataset(name).member.format(**parts)


def member_path(p: Params, name: str, fy: int | None = None, **parts: object) -> Path:
    """Where one file of a folder dataset lives."""
    return path(p, name, fy) / member(name, **parts)


def path(p: Params, name: str, fy: int | None = None) -> Path:
    """Where a dataset of the params' year (or of year ``fy``) lives."""
    return dataset(name).path(p, fy)


def exists(p: Params, name: str, fy: int | None = None) -> bool:
    return path(p, name, fy).exists()


def years_with(p: Params, name: str, before: int | None = None, until: int | None = None) -> list[int]:
    """The fiscal years of the run's folders in which a dataset exists, in order (only those before ``before`` or up
    to ``until``, when given: a year that is not looked at is not read)."""
    root = p.processed.parent
    years = sorted(int(d.name[2:]) for d in root.glob("fy*") if d.name[2:].isdigit()) if root.is_dir() else []
    years = [fy for fy in years if (before is None or fy < before) and (until is None or fy <= until)]
    return [fy for fy in years if exists(p, name, fy)]


def of_step(step: str) -> list[Dataset]:
    """The datasets a step writes (source tables aside: they follow the registry)."""
    return [d for d in DATASETS.values() if d.step == step]


def read_parquet(f: Path, columns: list[str] | None = None, filters: list | None = None) -> pd.DataFrame:
    """A Parquet file with its text as Arrow-backed strings (``columns`` and row ``filters`` as pyarrow takes them):
    the same ``string`` dtype as pandas' default, at a fraction of the memory of Python string objects (the identity
    table of 500,000 children: 0.4 GB instead of 2.5 GB)."""
    t = pq.read_table(f, columns=columns, filters=filters)
    strings = pd.StringDtype("pyarrow")
    return t.to_pandas(types_mapper={pa.string(): strings, pa.large_string(): strings}.get)


def read(p: Params, name: str, columns: list[str] | None = None, filters: list | None = None,
         fy: int | None = None) -> Any:
    """A dataset of the year (or of year ``fy``) as written (Parquet → DataFrame with Arrow strings, CSV →
    DataFrame, JSON → dict), ``None`` when it does not exist (its step has not run, or had nothing to write)."""
    f = path(p, name, fy)
    if not f.exists():
        return None
    if f.suffix == ".parquet":
        return read_parquet(f, columns=columns, filters=filters)
    if f.suffix == ".csv":
        return read_csv(f)
    if f.suffix == ".json":
        return json.loads(f.read_text(encoding="utf-8"))
    return f.read_text(encoding="utf-8")


def _writer(f: Path, obj: Any) -> Callable[[Path], None]:
    if isinstance(obj, pd.DataFrame):
        if f.suffix == ".parquet":
            return lambda t: obj.to_parquet(t, index=False)
        if f.suffix == ".csv":
            return lambda t: write_csv(obj, t)
    if isinstance(obj, dict | list) and f.suffix == ".json":
        return lambda t: t.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    if isinstance(obj, str):
        return lambda t: t.write_text(obj, encoding="utf-8")
    if isinstance(obj, dict) and not f.suffix:  # a folder: file name → text
        return lambda t: _write_folder(t, obj)
    if callable(obj):  # a function that writes the file itself (a workbook's save)
        return obj
    raise TypeError(f"{f.name}: cannot write {type(obj).__name__}")


def _write_folder(target: Path, files: dict[str, Any]) -> None:
    """A folder of files: file name → text, or a function that writes the file at the path it is given."""
    target.mkdir(mode=0o700)
    for name, content in files.items():
        f = target / name
        if callable(content):
            content(f)
        else:
            f.write_text(content, encoding="utf-8")
        f.chmod(0o600)


def write(p: Params, name: str, obj: Any) -> Path:
    """Write a dataset of the year, completely or not at all, private (600 in 700 folders). ``obj``: a DataFrame
    (Parquet or formula-safe CSV by the file's suffix), a dict (JSON; for a folder dataset, file name → text), text,
    or a function that writes to the path it is given. ``None`` removes the dataset (an optional one with nothing to
    write this time)."""
    d = dataset(name)
    f = d.path(p)
    if obj is None:
        if f.is_dir():
            shutil.rmtree(f)
        f.unlink(missing_ok=True)
        return f
    with (atomic_file(f) if d.place == "reports" else private_file(f, _root(p, d))) as tmp:
        _writer(f, obj)(tmp)
    return f


def write_member(p: Params, name: str, member: str, obj: Any) -> Path:
    """Write one file of a folder dataset (the others stay), completely or not at all, private like the folder."""
    d = dataset(name)
    f = d.path(p) / member
    with (atomic_file(f) if d.place == "reports" else private_file(f, _root(p, d))) as tmp:
        _writer(f, obj)(tmp)
    return f


def _root(p: Params, d: Dataset) -> Path | None:
    """The folder from which a dataset's folders are private (the processed root, or reports/internal/)."""
    return {"processed": p.processed.parent, "internal": p.internal_root, "reports": None}[d.place]


# --- what staff save back into the exports folder (<raw>/<fy>/), read by the steps -----------------------------------

SAVED = {  # kind → a file stem (.csv or .xlsx, as staff saved it) or a folder of such files
    "decisions": "shien/kettei",   # the meeting's decisions: the filled extraction list
    "cases": "shien/jirei",        # case records: the filled case template
    "review": "linkage/",          # answers to the 名寄せ review queue, under any name
    "hearing": "kikitori/",        # the schools' answers to the hearing forms, one file per school
}
SAVED_ROOT = {  # kind → a file stem in the exports folder itself (<raw>/), one file for every year
    "corrections": "teisei",       # 訂正 (and the family's 意見) the city decided, applied by every run
    "stops": "teishi",             # 利用停止 the city decided, honoured by every run
}
SAVED_SUFFIXES = (".csv", ".xlsx")


def saved_files(p: Params, kind: str) -> list[Path]:
    """The files staff saved for ``kind`` this year (every one a step would read; none when none were saved)."""
    if kind in SAVED_ROOT:
        return _stem_files(p.raw_dir / SAVED_ROOT[kind])
    where = SAVED[kind]
    if where.endswith("/"):
        d = p.raw_year / where
        return sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in SAVED_SUFFIXES
                      and not f.name.startswith(("~$", "."))) if d.is_dir() else []
    return _stem_files(p.raw_year / where)


def _stem_files(stem: Path) -> list[Path]:
    """``stem.csv`` and ``stem.xlsx`` where they exist."""
    d = stem.parent
    return sorted(f for f in d.iterdir() if f.is_file() and f.stem == stem.name and f.suffix.lower() in SAVED_SUFFIXES) \
        if d.is_dir() else []


def saved_place(p: Params, kind: str, suffix: str = ".csv") -> str:
    """Where staff save ``kind``, as a paper says it: within the exports folder, never a path of the server."""
    return "エクスポートのフォルダの " + saved_target(p, kind, suffix).relative_to(p.raw_dir).as_posix()


def saved_target(p: Params, kind: str, suffix: str = ".csv") -> Path:
    """Where staff save ``kind`` (named in messages and explanation sheets)."""
    if kind in SAVED_ROOT:
        return p.raw_dir / f"{SAVED_ROOT[kind]}{suffix}"
    where = SAVED[kind]
    return p.raw_year / where if where.endswith("/") else p.raw_year / f"{where}{suffix}"
