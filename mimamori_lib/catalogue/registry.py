"""The source registry (``params/sources.yaml``): every export the system receives, as data — and a city's own
registry, a few lines that ``extends`` it.

A city file names only what differs, per source: ``path``, ``encoding``, and ``columns`` by the city's header. A
column whose ``name`` is a canonical name the base has under another header replaces that header and keeps every
other property (type, required, identity, purpose) unless it sets them; a city's code values map to the canonical
codes with ``values: {男: "1"}``. The result is checked against a schema (pydantic, like params): an unknown key, an
unknown type, a canonical name mapped twice, a value mapped to a code the column does not have — one Japanese line
naming the file, the source and the key (:class:`RegistryError`), before any step runs.

Code reads canonical codes through :func:`code_labels` and :func:`code_for` (never a literal like ``"1"`` for 男), so a
city's values give the same outputs as the default's.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UserError
from ..params import Params, ParamsError, error_message, read_yaml_file
from ..params.loading import chain

TYPES = ("key", "text", "name", "kana", "int", "code", "wareki", "date", "address")
ROLES = ("registry", "attendance", "survey", "hearing")
Bound = int | float | dt.date | str | None


class RegistryError(UserError):
    """A source registry that cannot be used (one line naming the file, the source and the key)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _texts(v: Any) -> Any:
    """Codes and mapped values as text (YAML reads 1 as a number)."""
    if isinstance(v, list):
        return [str(x) for x in v]
    if isinstance(v, dict):
        return {str(k): str(x) for k, x in v.items()}
    return v


class Column(_Strict):
    """One column of an export: its header is the key in ``columns``."""

    name: str = Field(description="canonical name in the analysis tables")
    type: Literal[TYPES] = Field(description="key, text, name, kana, int, code, wareki, date, address")
    required: bool = False
    identity: bool = Field(False, description="identifies a person: only in the restricted identity table")
    pseudonym: str | None = Field(None, description="a key column: the name of its keyed pseudonym")
    allowed: bool = Field(True, description="false: the stated purpose does not allow it (refused, reported)")
    codes: list[str] | None = Field(None, description="a code column's canonical codes")
    labels: dict[str, str] | None = Field(None, description="canonical code → words")
    values: dict[str, str] | None = Field(None, description="a city's value → canonical code")
    invalid: Literal["missing"] | None = Field(None, description="a value that fails its check is a missing value")
    min: Bound = None
    max: Bound = None
    max_length: int | None = Field(None, ge=1)
    serial: bool = Field(False, description="a date column that may hold Excel serial numbers (45383)")

    _text = field_validator("codes", "labels", "values", mode="before")(lambda v: _texts(v))

    @model_validator(mode="after")
    def _codes(self) -> Column:
        if self.type == "code" and not self.codes:
            raise ValueError("code の列には codes が必要です")
        unknown = sorted(set((self.values or {}).values()) - set(self.codes or []))
        if unknown:
            raise ValueError(f"values が列にないコードに対応しています: {'・'.join(unknown)} (codes: {'・'.join(self.codes or [])})")
        if self.serial and self.type not in ("date", "wareki"):
            raise ValueError("serial は日付の列にだけ指定できます")
        return self


class Covers(_Strict):
    grades: tuple[int, int]
    share: float = Field(1.0, gt=0, le=1)


class Source(_Strict):
    """One export."""

    path: str = Field(description="the file under the year folder, e.g. shimin/juki.csv")
    role: Literal[ROLES] | None = None
    department: str = ""
    title: str = ""
    encoding: str = "utf-8-sig"
    purpose: str = ""
    unique: list[str] = []
    columns: dict[str, Column]
    school: bool = False
    optional: bool = False
    covers: Covers | None = None
    duplicates_allowed: bool = False
    row_lines: int = Field(1, ge=1, le=1000)
    sensitive: bool = Field(False, description="holds 要配慮個人情報 (health, disability, welfare, child protection): "
                                               "said in the 個人情報ファイル簿")
    parent_review: bool = Field(False, description="its rows need the 第78条第1項第1号 review before they are "
                                                   "disclosed to a 法定代理人 (開示)")

    @model_validator(mode="after")
    def _names(self) -> Source:
        names = [c.name for c in self.columns.values()]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            heads = {n: [h for h, c in self.columns.items() if c.name == n] for n in twice}
            raise ValueError("同じ列名に複数の見出しが対応しています: " + "、".join(f"{n} ({'・'.join(h)})" for n, h in heads.items()))
        missing = [h for h in self.unique if h not in self.columns]
        if missing:
            raise ValueError(f"unique の見出しが columns にありません: {'・'.join(missing)}")
        return self


class Registry(_Strict):
    type_defaults: dict[Literal[TYPES], dict[str, Any]] = {}
    sources: dict[str, Source]


# --- reading and merging ---------------------------------------------------------------------------------

SOURCE_KEYS = set(Source.model_fields) - {"columns"}


def _flat(spec: dict) -> dict:
    """A source as written in the base (``columns`` and ``extra_columns``) → one ``columns`` mapping."""
    out = {k: copy.deepcopy(v) for k, v in spec.items() if k not in ("columns", "extra_columns")}
    out["columns"] = {h: dict(c) for h, c in {**(spec.get("columns") or {}), **(spec.get("extra_columns") or {})}.items()}
    return out


def _merge_source(base: dict, city: dict, where: str) -> dict:
    """A city's entry for a source over the base's: top-level keys replace, columns merge by header or by canonical
    name (the city's header replaces the base's and keeps its properties)."""
    if not isinstance(city, dict):
        raise RegistryError(f"{where}: 「キー: 値」の形ではありません")
    out = {**base, **{k: copy.deepcopy(v) for k, v in city.items() if k not in ("columns", "extra_columns")}}
    cols = dict(base["columns"])
    renamed: dict[str, str] = {}
    claimed: dict[str, str] = {}  # canonical name → the city's header that took it
    for header, col in {**(city.get("columns") or {}), **(city.get("extra_columns") or {})}.items():
        col = dict(col or {})
        name = col.get("name", cols.get(header, {}).get("name"))
        if name in claimed:
            raise RegistryError(f"{where}.columns.{header}: 列名 {name} はすでに見出し {claimed[name]} に対応しています "
                                "(同じ列名に複数の見出しが対応しています)")
        claimed[name] = header
        if header in cols:
            cols[header] = {**cols[header], **col}
            continue
        old = next((h for h, c in cols.items() if "name" in col and c.get("name") == col["name"]), None)
        if old is None:
            cols[header] = col
            continue
        cols = {(header if h == old else h): ({**c, **col} if h == old else c) for h, c in cols.items()}
        renamed[old] = header
    out["columns"] = cols
    if renamed and "unique" in out and "unique" not in city:
        out["unique"] = [renamed.get(h, h) for h in out["unique"]]
    return out


def _read_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """A registry file merged over the registry it ``extends`` (relative to the file, or absolute)."""
    path = Path(path).resolve()
    if path in seen:
        raise RegistryError(f"登録簿の extends が循環しています: {' → '.join(p.name for p in (*seen, path))}")
    try:
        raw = copy.deepcopy(read_yaml_file(path))
    except ParamsError as e:
        raise RegistryError(f"登録簿を読めません: {e}") from None
    parent = raw.pop("extends", None)
    unknown = sorted(set(raw) - {"type_defaults", "sources", "defaults"})
    if unknown:
        raise RegistryError(f"登録簿 {path}: {unknown[0]} — 不明な項目です (綴りを確認してください)")
    raw.pop("defaults", None)  # (older registries) no longer used
    if not isinstance(raw.get("sources", {}), dict):
        raise RegistryError(f"登録簿 {path}: sources — 「キー: 値」の形ではありません")
    sources = {sid: _flat(s) if isinstance(s, dict) else s for sid, s in (raw.get("sources") or {}).items()}
    if not parent:
        return {"type_defaults": raw.get("type_defaults") or {}, "sources": sources, "_files": [str(path)]}
    base = _read_chain(Path(parent) if Path(parent).is_absolute() else path.parent / str(parent), (*seen, path))
    merged = dict(base["sources"])
    for sid, spec in sources.items():
        merged[sid] = _merge_source(merged[sid], spec, f"登録簿 {path}: sources.{sid}") if sid in merged else spec
    defaults = {**base["type_defaults"], **{t: {**base["type_defaults"].get(t, {}), **d}
                                            for t, d in (raw.get("type_defaults") or {}).items()}}
    return {"type_defaults": defaults, "sources": merged, "_files": [*base["_files"], str(path)]}


def _validate(data: dict, path: Path) -> dict[str, dict]:
    """The merged registry checked against the schema; each source's columns with the type defaults filled in."""
    files = data.pop("_files")
    defaults = data.get("type_defaults") or {}
    for spec in data["sources"].values():
        if isinstance(spec, dict):
            for h, c in spec.get("columns", {}).items():
                if isinstance(c, dict):
                    spec["columns"][h] = {**defaults.get(c.get("type"), {}), **c}
    try:
        reg = Registry.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        where = " (" + " が拡張する ".join(reversed([Path(f).name for f in files])) + ")" if len(files) > 1 else ""
        raise RegistryError(f"登録簿 {path}{where}: {key} — {error_message(err)}") from None
    return {sid: {**s.model_dump(exclude_none=True), "id": sid} for sid, s in reg.sources.items()}


def load_registry(p: Params) -> dict[str, dict]:
    """The source registry named in params (``ingest.registry``, and what it extends), checked, with each source's
    columns in one mapping and the run's refusals (``ingest.refuse: {source: [header, ...]}``) applied. Read once
    per version of the files (callers must not modify what it returns)."""
    f = Path(p.ingest.registry).resolve()
    return _load(str(f), _versions(f), json.dumps(p.ingest.refuse, sort_keys=True))


def registry_files(p: Params) -> list[Path]:
    """The registry named in params and every file it extends (what a run's fingerprint hashes)."""
    return chain(Path(p.ingest.registry))


def columns_read(spec: dict) -> dict[str, dict]:
    """The columns of a source the ingestion reads (header → column): those its purpose allows and the run does not
    refuse (個人情報保護法 第61条)."""
    return {h: c for h, c in spec["columns"].items() if c.get("allowed", True)}


def _versions(f: Path) -> tuple:
    """(file, modification time) of a registry and every file it extends: the cache key."""
    return tuple((str(x), x.stat().st_mtime) for x in chain(f))


@functools.lru_cache(maxsize=16)
def _load(path: str, versions: tuple, refuse_json: str) -> dict[str, dict]:
    if not Path(path).is_file():
        raise RegistryError(f"登録簿が見つかりません: {path} (params の ingest.registry を確認してください)")
    reg = _validate(_read_chain(Path(path)), Path(path))
    refuse = json.loads(refuse_json)
    for sid, headers in refuse.items():
        for h in headers:
            if sid in reg and h in reg[sid]["columns"]:
                reg[sid]["columns"][h]["allowed"] = False
    return reg


def role_source(p: Params, role: str) -> str:
    """The id of the source with this ``role`` in the registry (registry, attendance, survey, hearing)."""
    for sid, spec in load_registry(p).items():
        if spec.get("role") == role:
            return sid
    raise KeyError(f"登録簿に role: {role} のファイルがありません")


def registry_path(p: Params) -> str:
    """The file of the resident registry (the source whose ``role`` is ``registry``)."""
    return load_registry(p)[role_source(p, "registry")]["path"]


# --- canonical codes ---------------------------------------------------------------------------------------

def _column(p: Params, name: str, role: str) -> dict:
    spec = load_registry(p)[role_source(p, role)]
    for c in spec["columns"].values():
        if c["name"] == name:
            return c
    raise KeyError(f"登録簿の {spec['path']} に列 {name} がありません")


def code_labels(p: Params, name: str, role: str = "registry") -> dict[str, str]:
    """A code column's canonical codes and their words (``sex`` → {"1": 男, "2": 女})."""
    c = _column(p, name, role)
    return {code: (c.get("labels") or {}).get(code, code) for code in c.get("codes", [])}


def code_for(p: Params, name: str, label: str, role: str = "registry") -> str:
    """The canonical code whose words are ``label`` (``nationality``, 外国 → "2")."""
    for code, words in code_labels(p, name, role).items():
        if words == label:
            return code
    raise KeyError(f"登録簿の列 {name} に「{label}」のコードがありません")
