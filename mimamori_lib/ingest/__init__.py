"""Ingestion (10_ingest): read every department export as received, normalise, validate, quarantine, pseudonymise.

Driven by the source registry (:mod:`mimamori_lib.catalogue.registry`): nothing here knows a particular file. Per
source: decode (declared encoding, BOM, or the other Japanese encoding with a note), check the header (unknown or
purpose-disallowed columns are refused and reported; a missing required column stops that source), validate each row
with a pandera schema built from the registry, set failing rows aside in the quarantine with their 1-based row number
and a Japanese reason, and write the typed, pseudonymised table. Identifying columns go only to the restricted
identity table. ``rows_read = rows_loaded + rows_quarantined`` is checked per source.

Modules: :mod:`.source` (one export), :mod:`.validation` (pandera schema, quarantine lines), :mod:`.year` (a fiscal
year and its outputs), :mod:`.parallel` (the year's sources in order; in a big city the others in a second process
while the registry is read), :mod:`.completeness` (required sources, shrinking files), :mod:`.check` (``mimamori sources
check``), :mod:`.quality` (the data quality report). Reading bytes into rows is :mod:`mimamori_lib.text.reading`;
an export's rows are held as Arrow columns (:mod:`mimamori_lib.text.cells`), read in chunks, so a big city's cells
are never all Python strings.
"""

from __future__ import annotations

from .year import IngestResult, run

__all__ = ["IngestResult", "run"]
