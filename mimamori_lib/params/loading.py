"""Reading params files: ``extends``, paths relative to the file that wrote them, one Japanese line for any
mistake (:class:`ParamsError`), and the reference of every parameter."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .. import paths
from .errors import ParamsError
from .model import Params, build, merge

# --- reading ------------------------------------------------------------------------------------------

# keys whose values are paths: resolved against the file that wrote them
PATH_KEYS = (("raw_dir",), ("out_dir",), ("key_file",), ("ingest", "registry"), ("ingest", "gaiji"), ("indicators", "catalogue"),
             ("evaluation", "narrative"))


def _leaves(d: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out += _leaves(v, (*prefix, k)) if isinstance(v, dict) and v else [(*prefix, k)]
    return out


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's, when PyYAML has it: about 6× faster
    """YAML's safe loader, except that a date that is not a real date (2025-13-01) stays text, so that the schema
    can name its key instead of the YAML parser failing without one."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


@functools.lru_cache(maxsize=64)
def _parse(path: str, mtime: float) -> Any:
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" ({mark.line + 1} 行目 {mark.column + 1} 列目付近)" if mark else ""
        raise ParamsError(f"パラメータファイルの YAML が読めません{where}: {path}") from e
    except UnicodeDecodeError as e:
        raise ParamsError(f"パラメータファイルが UTF-8 ではありません: {path}") from e


def _resolve_paths(data: dict, base: Path) -> dict:
    for key in PATH_KEYS:
        node = data
        for k in key[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(key[-1]), str | os.PathLike) and str(node[key[-1]]):
            p = Path(node[key[-1]]).expanduser()
            node[key[-1]] = str(p if p.is_absolute() else (base / p).resolve())
    if isinstance(data.get("years"), dict):
        data["years"] = {y: str((base / Path(f)).resolve()) if isinstance(f, str) and f
                         else _resolve_paths(f, base) if isinstance(f, dict) else f for y, f in data["years"].items()}
    return data


def read_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, dict]:
    """One params file (parsed once per version of the file) merged over the files it ``extends``; relative
    paths resolved against the file that wrote them. Returns (data, origin: key path → file that set it)."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " → ".join(p.name for p in (*_seen, path))
        raise ParamsError(f"extends が循環しています: {chain} ({path})")
    if not path.is_file():
        raise ParamsError(f"パラメータファイルが見つかりません: {path}")
    raw = _parse(str(path), path.stat().st_mtime)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"パラメータファイルの形式が不正です (「キー: 値」の形ではありません): {path}")
    data = _resolve_paths(copy.deepcopy(raw), path.parent)
    parent = data.pop("extends", None)
    origin = dict.fromkeys(_leaves(data), path)
    if parent:
        base, base_origin = read_yaml((path.parent / str(parent)).resolve(), (*_seen, path))
        if "years" in data:  # a file's years are the run's years: never merged with the years of the file it extends
            base.pop("years", None)
        data = merge(base, data)
        origin = {**base_origin, **origin}
    return data, origin


def read_yaml_file(path: Path) -> dict:
    """One YAML file as written (its ``extends`` not followed), parsed once per version of the file."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ParamsError(f"ファイルが見つかりません: {path}")
    raw = _parse(str(path), path.stat().st_mtime)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParamsError(f"ファイルの形式が不正です (「キー: 値」の形ではありません): {path}")
    return raw


def chain(path: Path) -> list[Path]:
    """A YAML file and every file it ``extends`` (what a fingerprint of its content must hash)."""
    out: list[Path] = []
    f = Path(path).resolve()
    while f.is_file() and f not in out:
        out.append(f)
        try:
            parent = read_yaml_file(f).get("extends")
        except ParamsError:
            break
        if not parent:
            break
        f = (Path(parent) if Path(parent).is_absolute() else f.parent / str(parent)).resolve()
    return out


def read_data_file(path: Path) -> dict:
    """A YAML data file of the project (source registry, indicator catalogue), parsed once per version."""
    data, _ = read_yaml(path)
    return data


def load_params(params_path: str | os.PathLike = "params/fy2025.yaml", overrides: dict | None = None) -> Params:
    """Load a run's parameters (a file, the files it extends, then ``overrides`` such as the CLI's folders) and
    validate them. Relative paths in ``overrides`` resolve against the repository root. A ``fiscal_year`` override
    names one of the file's ``years`` and gives that year's parameters (its own file, or its inline entry)."""
    path = paths.resolve_existing(params_path)
    data, origin = read_yaml(path)
    over = {k: v for k, v in (overrides or {}).items() if v is not None and k != "fiscal_year"}
    over = _resolve_paths(copy.deepcopy(over), paths.ROOT)
    p = build(merge(data, over), path, {**origin, **dict.fromkeys(_leaves(over), Path("(上書き指定)"))})
    fy = (overrides or {}).get("fiscal_year")
    return p if fy is None else year_params(p, int(fy))


def year_params(p: Params, fy: int) -> Params:
    """The same run's parameters for another fiscal year (its file from ``years:``; the same raw and output
    folders)."""
    if int(fy) == p.fiscal_year:
        return p
    if int(fy) not in p.years:
        known = "・".join(str(y) for y in sorted(p.years)) or "なし"
        raise ParamsError(f"年度 {fy} のパラメータファイルが years にありません (あるのは {known}): {p.params_path}")
    f = p.years[int(fy)]
    if isinstance(f, Path):
        return load_params(f, {**p.overrides(), "fiscal_year": None})
    # a year written in the same file: the file's settings, the year's own on top (its reference date, …)
    data = {k: v for k, v in p._data.items() if k not in ("fiscal_year", "reference_date")}
    return build(merge(data, {**(f or {}), "fiscal_year": int(fy)}), p.params_path, p._origin)


def run_years(p: Params) -> list[int]:
    """Every fiscal year of the run, in order (those in ``years``, and this one)."""
    return sorted({*p.years, p.fiscal_year})


def reference(model: type[BaseModel] = Params, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key, default, description) of every parameter: the reference printed by ``mimamori params``."""
    out = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.append((key, "", (ann.__doc__ or "").strip().splitlines()[0] if ann.__doc__ else ""))
            out += reference(ann, key + ".")
            continue
        default = "(必須)" if f.is_required() else repr(f.get_default(call_default_factory=True))
        out.append((key, default, f.description or ""))
    return out
