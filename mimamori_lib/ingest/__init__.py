"""Ingestion: read every department export as received, normalise, validate, quarantine, pseudonymise.

Driven by the source registry (``params/sources.yaml``): nothing here knows a particular file. Per source:
decode (declared encoding, BOM, or the other Japanese encoding with a note), check the header (unknown or
purpose-disallowed columns are refused and reported; a missing required column stops that source), validate
each row with a pandera schema built from the registry, set failing rows aside in the quarantine with their
1-based row number and a Japanese reason, and write the typed, pseudonymised table. Identifying columns go
only to the restricted identity table. ``rows_read = rows_loaded + rows_quarantined`` is checked per source.

Modules: :mod:`.registry` (the source registry), :mod:`.reading` (bytes → rows), :mod:`.validation` (pandera
schema, quarantine lines), :mod:`.source` (one export), :mod:`.year` (a fiscal year and its outputs),
:mod:`.completeness` (required sources, shrinking files), :mod:`.tables` (reading the processed tables).
The reading side is imported eagerly; the validation machinery (pandera) only when ingestion runs.
"""

from __future__ import annotations

import importlib

from .reading import SourceError, decode, read_rows
from .registry import load_registry, registry_path, role_source
from .tables import read_identity, read_table

_LAZY = {"SourceResult": "source", "convert": "source", "ingest_source": "source", "known_surnames": "source",
         "IngestResult": "year", "ingest_year": "year", "write_outputs": "year"}

__all__ = ["IngestResult", "SourceError", "SourceResult", "convert", "decode", "ingest_source", "ingest_year",
           "known_surnames", "load_registry", "read_identity", "read_rows", "read_table", "registry_path", "role_source",
           "write_outputs"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
