"""``mimamori sources check``: each export's header and a sample of its rows against the source registry, before a run
and without writing anything — so a city learns that a department changed its export before the annual run stops.

Per source and year: the file found or not, the encoding detected, headers matched, headers missing (required or
not), headers the registry does not know (not read until the registry lists them), and values of code columns the
registry does not know, with counts. A run would start when every required source is there with its required
headers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..catalogue.registry import load_registry
from ..params import Params, run_years, year_params
from ..text.normalize import nfkc
from ..text.reading import ENCODING_LABEL, SourceError, decode, read_rows
from .validation import code_map

SAMPLE_ROWS = 5000


@dataclass
class SourceCheck:
    """What the check found for one export of one year."""

    fy: int
    source: str
    path: str
    title: str
    found: bool = False
    encoding: str = ""
    matched: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unknown_codes: dict[str, Counter] = field(default_factory=dict)
    problem: str = ""
    required: bool = False
    optional: bool = False

    @property
    def blocks(self) -> bool:
        """Whether this stops the run: a required source missing, unreadable or without a required header."""
        return self.required and (not self.found or bool(self.problem) or bool(self.missing_required))


def _sample(text: str, rows: int) -> str:
    cut = -1
    for _ in range(rows + 1):
        cut = text.find("\n", cut + 1)
        if cut < 0:
            return text
    return text[: cut + 1]


def check_source(p: Params, sid: str, spec: dict, required: bool) -> SourceCheck:
    r = SourceCheck(p.fiscal_year, sid, spec["path"], spec.get("title", sid), required=required,
                    optional=bool(spec.get("optional")))
    f = p.raw_year / spec["path"]
    if not f.is_file():
        return r
    r.found = True
    try:
        text, used, _ = decode(f.read_bytes(), spec["encoding"])
        t = read_rows(_sample(text, SAMPLE_ROWS), int(spec.get("row_lines", 1)))
    except SourceError as e:
        r.problem = str(e)
        return r
    r.encoding = ENCODING_LABEL.get(used, used)
    cols = spec["columns"]
    r.matched = [h for h in t.header if h in cols and cols[h].get("allowed", True)]
    r.refused = [h for h in t.header if h in cols and not cols[h].get("allowed", True)]
    r.unknown = [h for h in t.header if h not in cols]
    r.missing_required = [h for h, c in cols.items() if c.get("required") and h not in t.header]
    r.missing_optional = [h for h, c in cols.items() if not c.get("required") and h not in t.header]
    for h in r.matched:
        c = cols[h]
        if c["type"] != "code" or c.get("invalid") == "missing":
            continue
        known = code_map(c)
        i = t.header.index(h)
        seen = Counter(v for v in (nfkc(row[i]) for row in t.rows if i < len(row)) if v and v not in known)
        if seen:
            r.unknown_codes[h] = seen
    return r


def check_all(base: Params) -> list[SourceCheck]:
    """Every source of every year of the run whose folder exists."""
    out = []
    for fy in run_years(base):
        p = year_params(base, fy)
        if not p.raw_year.is_dir():
            continue
        reg = load_registry(p)
        required = {s for s, spec in reg.items() if spec.get("role") == "registry"} | set(p.ingest.required_sources)
        out += [check_source(p, sid, spec, sid in required) for sid, spec in reg.items()]
    return out


def _list(xs, n: int = 8) -> str:
    xs = list(xs)
    return "・".join(map(str, xs[:n])) + (f" ほか {len(xs) - n} 件" if len(xs) > n else "")


def _short(v: str, n: int = 20) -> str:
    return v if len(v) <= n else f"{v[:n]}… ({len(v):,} 文字)"


def report(checks: list[SourceCheck], raw: Path) -> list[str]:
    """The check in Japanese lines, per year and source."""
    lines = []
    if not checks:
        return [f"{raw} に年度のフォルダ (fy2025 など) がありません"]
    for fy in sorted({c.fy for c in checks}):
        lines.append(f"FY{fy} ({raw / f'fy{fy}'})")
        for c in (c for c in checks if c.fy == fy):
            head = f"  {c.title} ({c.path})"
            if not c.found:
                lines.append(f"{head}: × ファイルがありません" + (" — このファイルがないと実行できません" if c.required else
                                                             " (任意のファイル)" if c.optional else ""))
                continue
            if c.problem:
                lines.append(f"{head}: × 読めません: {c.problem}")
                continue
            mark = "×" if c.missing_required else ("△" if c.unknown or c.unknown_codes else "○")
            lines.append(f"{head}: {mark} {c.encoding}、一致した列 {len(c.matched)}")
            if c.missing_required:
                lines.append(f"      必須の列がありません: {_list(c.missing_required)}")
            if c.missing_optional:
                lines.append(f"      ない列 (任意): {_list(c.missing_optional)}")
            if c.unknown:
                lines.append(f"      登録簿にない列 (読み込みません。使うときは登録簿に書いてください): {_list(c.unknown)}")
            if c.refused:
                lines.append(f"      利用目的外のため読み込まない列: {_list(c.refused)}")
            for h, counts in c.unknown_codes.items():
                shown = _list(f"{_short(v)} ({n:,} 行)" for v, n in counts.most_common())
                lines.append(f"      {h}: 登録簿にないコード値 (その行は隔離されます。登録簿の values で対応付けます): {shown}")
    blocking = [c for c in checks if c.blocks]
    lines.append("実行できます。" if not blocking else
                 "実行できません: " + "・".join(f"FY{c.fy} {c.path}" for c in blocking) + " を直してください。")
    return lines
