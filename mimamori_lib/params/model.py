"""A run's parameters: every section, the run's folders derived from them."""

from __future__ import annotations

import copy
import datetime as dt
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .. import paths
from .errors import ParamsError, error_message
from .sections import (
    Cases,
    City,
    Disclosure,
    Evaluation,
    Extraction,
    Indicators,
    Ingest,
    Linkage,
    Privacy,
    Ranking,
    Records,
    Retention,
    Run,
    Sharing,
    Survey,
    Synth,
    _Section,
)


class Params(_Section):
    """A run's parameters. Paths are absolute after loading; the derived folders are properties."""

    fiscal_year: int = Field(ge=2000, le=2100, description="the fiscal year of the run (年度)")
    reference_date: dt.date | None = Field(None, description="基準日 (null: 1 September of the fiscal year)")
    raw_dir: Path = Field(paths.RAW, description="folder holding fy2024/, fy2025/, ... (the exports as received)")
    out_dir: Path | None = Field(None, description="null: data/processed/<fy>/ and reports/; else <out>/processed, <out>/reports")
    key_file: Path | None = Field(None, description="the pseudonym key (null: $MIMAMORI_KEY_FILE, else data/mimamori.key)")
    years: dict[int, Path | dict[str, Any] | None] = Field(
        {}, description="the fiscal years of the run: each year's params file (relative to the file), or what differs "
                        "in that year written here (e.g. {reference_date: 2025-09-01}; empty: nothing), so that one "
                        "city file holds every year")
    notebooks: list[str] = Field(["10_ingest", "20_link", "25_ranking", "30_extract", "35_meeting", "40_survey",
                                  "45_cases", "50_evaluation"],
                                 description="notebooks of a run, in order")
    synth: Synth = Synth()
    city: City = City()
    ingest: Ingest = Ingest()
    linkage: Linkage = Linkage()
    indicators: Indicators = Indicators()
    extraction: Extraction = Extraction()
    ranking: Ranking = Ranking()
    survey: Survey
    disclosure: Disclosure = Disclosure()
    cases: Cases = Cases()
    evaluation: Evaluation = Evaluation()
    privacy: Privacy = Privacy()
    sharing: Sharing = Sharing()
    records: Records = Records()
    retention: Retention = Retention()
    run: Run = Run()

    _path: Path = PrivateAttr(default=None)
    _data: dict = PrivateAttr(default_factory=dict)
    _origin: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _reference(self) -> Params:
        if self.reference_date is None:
            self.reference_date = dt.date(self.fiscal_year, 9, 1)
        return self

    @field_validator("raw_dir", mode="before")
    @classmethod
    def _raw_default(cls, v: Any) -> Any:
        return cls.model_fields["raw_dir"].default if v is None or v == "" else v

    @field_validator("years", mode="before")
    @classmethod
    def _year_keys(cls, v: Any) -> Any:
        return {int(k): f for k, f in v.items()} if isinstance(v, dict) else v

    @model_validator(mode="before")
    @classmethod
    def _latest_year(cls, v: Any) -> Any:
        """A file that lists its years and names no fiscal year runs the latest of them."""
        if isinstance(v, dict) and v.get("fiscal_year") is None and isinstance(v.get("years"), dict) and v["years"]:
            return {**v, "fiscal_year": max(int(y) for y in v["years"])}
        return v

    # where things are (derived, never set in a file)
    @property
    def params_path(self) -> Path:
        """The params file this run was loaded from."""
        return self._path

    @property
    def fy(self) -> str:
        """``fy2025``."""
        return paths.fy_dir(self.fiscal_year)

    @property
    def raw_year(self) -> Path:
        """``<raw>/<fy>/``: this year's exports."""
        return self.raw_dir / self.fy

    @property
    def processed(self) -> Path:
        """``<out>/processed/<fy>/``."""
        return paths.processed_dir(self.out_dir, self.fiscal_year)

    @property
    def reports(self) -> Path:
        """``<out>/reports/``."""
        return paths.reports_dir(self.out_dir)

    @property
    def internal_root(self) -> Path:
        """``<out>/reports/internal/``: everything that names a child."""
        return self.reports / "internal"

    @property
    def internal(self) -> Path:
        """``<out>/reports/internal/<fy>/``."""
        return self.internal_root / self.fy

    def overrides(self) -> dict:
        """What a notebook of this run passes to ``load_params`` with ``params_path`` to get these parameters back:
        the folders, and the fiscal year (a year written inline in a city file is not the file's default year)."""
        return {"raw_dir": str(self.raw_dir), "out_dir": None if self.out_dir is None else str(self.out_dir),
                "fiscal_year": self.fiscal_year}

    def with_overrides(self, changes: dict) -> Params:
        """The same run's parameters with some values changed (validated again)."""
        return build(merge(self._data, changes), self._path, self._origin)


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _entry_model(annotation: Any) -> type[BaseModel] | None:
    """``Model`` of a ``dict[str, Model]`` field."""
    if typing.get_origin(annotation) is dict:
        args = typing.get_args(annotation)
        return _model_of(args[1]) if len(args) == 2 else None
    return None


def over_defaults(model: type[BaseModel], data: dict) -> dict:
    """A file's values over the schema's default entries, field by field: a file that changes one field of a default
    kind of need, outcome or recipient names only that field (``ranking.kinds.attendance.weight: 3``), keeps the
    entries it does not name, and removes one with ``null``."""
    out = dict(data)
    for name, f in model.model_fields.items():
        v = out.get(name)
        if not isinstance(v, dict):
            continue
        sub = _model_of(f.annotation)
        if sub is not None:
            out[name] = over_defaults(sub, v)
            continue
        item = _entry_model(f.annotation)
        if item is None or f.is_required():
            continue
        defaults = f.get_default(call_default_factory=True) or {}
        merged = {k: d.model_dump() for k, d in defaults.items()}
        for k, e in v.items():
            if e is None:
                merged.pop(k, None)
            elif isinstance(e, dict):
                merged[k] = over_defaults(item, merge(merged[k], e) if k in merged else e)
            else:
                merged[k] = e
        out[name] = merged
    return out


def build(data: dict, path: Path, origin: dict) -> Params:
    try:
        p = Params.model_validate(over_defaults(Params, data))
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(str(x) for x in err["loc"])
        key = ".".join(loc) or "(全体)"
        where = next((origin[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in origin), path)
        value = f" (値: {err['input']!r})" if err["type"] not in ("missing",) and not isinstance(err.get("input"), dict) else ""
        more = f" ほか {len(e.errors()) - 1} 件" if len(e.errors()) > 1 else ""
        raise ParamsError(f"パラメータ {key}: {error_message(err)}{value} — {where}{more}") from None
    p._path, p._data, p._origin = path, data, origin
    _place(p, "")
    return p


def _place(section: BaseModel, where: str) -> None:
    """Tell every section where it sits in the run's params (what :mod:`.reads` records)."""
    section._where = where
    for name in type(section).model_fields:
        v = section.__dict__.get(name)
        if isinstance(v, BaseModel):
            _place(v, f"{where}{name}.")
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(x, BaseModel):
                    _place(x, f"{where}{name}.{k}.")
