"""The family's requests as the city decided them: 訂正 (and 意見) in ``<exports>/teisei.xlsx`` and 利用停止 in
``<exports>/teishi.xlsx`` (or ``.csv``; one file each for every year), read as staff saved them.

Every row is checked on its own: a row that cannot be used (an unknown column value, an unknown 資料, a 宛名番号 that
is not a number, a date that is not a date) is set aside with its row number and the reason, never a traceback, and
never with the values it carries (they are personal). What a row means for a year's exports is decided at ingestion
(:mod:`.apply`), where the year's registry is known.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..catalogue import datasets
from ..catalogue.readback import read_saved
from ..catalogue.registry import load_registry
from ..errors import InputError
from ..params import Params
from ..text.normalize import nfkc, normalize_atena, parse_date, parse_int

CORRECTION_COLUMNS = ["受付番号", "宛名番号", "年度", "資料", "行", "項目", "訂正前", "訂正後", "理由", "決定日"]
STOP_COLUMNS = ["受付番号", "宛名番号", "範囲", "理由", "決定日", "解除日"]
OPINION = "意見"            # 項目 of a row that records the family's opinion on a judgement (never applied)
WHOLE = "全部"              # 範囲 of a stop of everything held about the child
SEPARATOR = "・"
PROBLEM_COLUMNS = ["file", "row", "receipt", "column", "reason", "source", "line"]   # no value: what a row carries is personal


@dataclass(frozen=True)
class Problem:
    """A row of a request file that could not be used."""

    file: str
    row: int
    receipt: str
    column: str
    reason: str
    source: str = ""            # a correction set aside at ingestion: the export …
    line: int | None = None     # … and its line


@dataclass(frozen=True)
class Correction:
    """One decided correction of a fact in an export (or, with ``item == 意見``, the family's opinion)."""

    receipt: str          # 受付番号
    atena: str            # 宛名番号 (10 digits)
    fy: int
    path: str             # 資料: the registry's path (gakko/shusseki.csv); empty for an opinion on a judgement
    line: int | None      # 行: the line in the export as received (header = line 1)
    item: str             # 項目: the export's header, or 意見
    before: str           # 訂正前
    after: str            # 訂正後 (for an opinion: its text)
    reason: str
    decided: dt.date
    file_row: int         # the row of the request file (as Excel shows it)

    @property
    def is_opinion(self) -> bool:
        return self.item == OPINION


@dataclass(frozen=True)
class Stop:
    """One decided 利用停止: everything held about the child, or some sources."""

    receipt: str
    atena: str
    paths: tuple[str, ...] | None     # None: 全部
    reason: str
    decided: dt.date
    lifted: dt.date | None            # 解除日
    file_row: int

    def active(self, today: dt.date) -> bool:
        return self.decided <= today and (self.lifted is None or today < self.lifted)

    def covers(self, path: str) -> bool:
        return self.paths is None or path in self.paths


@dataclass
class Requests:
    corrections: list[Correction]
    stops: list[Stop]
    problems: list[Problem]
    files: list[Path]


def _file(p: Params, kind: str, what: str) -> Path | None:
    files = datasets.saved_files(p, kind)
    if len(files) > 1:
        raise InputError(f"{what}のファイルが {len(files)} つあります ({'・'.join(str(f) for f in files)})。使う方を残し、"
                         "もう一方を別のフォルダへ移してから、もう一度実行してください")
    return files[0] if files else None


def _rows(f: Path, columns: list[str], what: str, problems: list[Problem]):
    try:
        t = read_saved(f, columns[:2], what, f"{what}の表 ({', '.join(columns)})")
    except InputError as e:
        problems.append(Problem(f.name, 0, "", "(ファイル)", str(e)))
        return []
    problems.extend(Problem(f.name, n, "", "(行全体)", why) for n, why in t.broken)
    unknown = [h for h in t.header if h and h not in columns]
    if unknown:
        problems.append(Problem(f.name, 1, "", "(見出し)", f"不明な列です: {'・'.join(unknown)} (使える列: {'・'.join(columns)})"))
    return [(n, {k: nfkc(v) for k, v in r.items()}) for n, r in t.records(columns) if any(v.strip() for v in r.values())]


def _each(p: Params, kind: str, what: str, columns: list[str], parse, paths: set[str], files: list[Path],
          problems: list[Problem]) -> list:
    """The usable requests of one file (``parse``: a row → a request, or ``None`` with its problems noted)."""
    f = _file(p, kind, what)
    if f is None:
        return []
    files.append(f)
    found = (parse(f.name, n, v, paths, problems) for n, v in _rows(f, columns, what, problems))
    return [x for x in found if x is not None]


def read(p: Params) -> Requests:
    """Every request row of the exports folder, checked (the year's registry is checked at ingestion)."""
    problems: list[Problem] = []
    files: list[Path] = []
    paths = {s["path"] for s in load_registry(p).values()}
    corrections = _each(p, "corrections", "訂正", CORRECTION_COLUMNS, _correction, paths, files, problems)
    stops = _each(p, "stops", "利用停止", STOP_COLUMNS, _stop, paths, files, problems)
    return Requests(corrections, stops, problems, files)


def _common(name: str, n: int, v: dict, problems: list[Problem]) -> tuple[str, dt.date] | None:
    """宛名番号 and 決定日, or a problem."""
    bad = []
    atena = normalize_atena(v["宛名番号"])
    if atena is None:
        bad.append(("宛名番号", "宛名番号が数字ではありません"))
    decided = parse_date(v["決定日"])
    if decided is None:
        bad.append(("決定日", "決定日が日付として読めません"))
    problems.extend(Problem(name, n, v["受付番号"], c, why) for c, why in bad)
    return None if bad else (atena, decided)


def _correction(name: str, n: int, v: dict, paths: set[str], problems: list[Problem]) -> Correction | None:
    common = _common(name, n, v, problems)
    fy = parse_int(v["年度"])
    opinion = v["項目"] == OPINION
    bad = []
    if fy is None or not 2000 <= fy <= 2100:
        bad.append(("年度", "年度が読めません (例: 2025)"))
    if not v["項目"]:
        bad.append(("項目", "項目が空欄です (訂正する列の見出し、または 意見)"))
    if v["資料"] and v["資料"] not in paths:
        bad.append(("資料", f"登録簿にない資料です (例: {sorted(paths)[0]})"))
    line = parse_int(v["行"]) if v["行"] else None
    if not opinion:
        if not v["資料"]:
            bad.append(("資料", f"訂正する資料 (例: {sorted(paths)[0]}) が空欄です"))
        if line is None or line < 2:
            bad.append(("行", "行はエクスポートの行番号 (見出しが 1 行目) です"))
        if not v["訂正後"] and not v["訂正前"]:
            bad.append(("訂正後", "訂正前と訂正後がどちらも空欄です"))
    elif not (v["訂正後"] or v["理由"]):
        bad.append(("訂正後", "意見の内容 (訂正後の列) が空欄です"))
    problems.extend(Problem(name, n, v["受付番号"], c, why) for c, why in bad)
    if bad or common is None:
        return None
    return Correction(v["受付番号"], common[0], fy, v["資料"], line, v["項目"], v["訂正前"],
                      v["訂正後"] or (v["理由"] if opinion else ""), v["理由"], common[1], n)


def _stop(name: str, n: int, v: dict, paths: set[str], problems: list[Problem]) -> Stop | None:
    common = _common(name, n, v, problems)
    bad = []
    scope: tuple[str, ...] | None = None
    if v["範囲"] != WHOLE:
        scope = tuple(x.strip() for x in v["範囲"].split(SEPARATOR) if x.strip())
        unknown = [x for x in scope if x not in paths]
        if not scope or unknown:
            bad.append(("範囲", f"範囲は {WHOLE}、または登録簿の資料を ・ で区切って書きます (不明: {'・'.join(unknown) or '空欄'})"))
    lifted = parse_date(v["解除日"]) if v["解除日"] else None
    if v["解除日"] and lifted is None:
        bad.append(("解除日", "解除日が日付として読めません"))
    problems.extend(Problem(name, n, v["受付番号"], c, why) for c, why in bad)
    if bad or common is None:
        return None
    return Stop(v["受付番号"], common[0], scope, v["理由"], common[1], lifted, n)
