"""Ingestion: read every department export as received, normalise, validate, quarantine, pseudonymise.

Driven by the source registry (``params/sources.yaml``): nothing here knows a particular file. Per source:
decode (declared encoding, BOM, or the other Japanese encoding with a note), check the header (unknown or
purpose-disallowed columns are refused and reported; a missing required column stops that source), validate
each row with a pandera schema built from the registry, set failing rows aside in the quarantine with their
1-based row number and a Japanese reason, and write the typed, pseudonymised table. Identifying columns go
only to the restricted identity table. ``rows_read = rows_loaded + rows_quarantined`` is checked per source.

Modules: :mod:`.registry` (the source registry), :mod:`.reading` (bytes → rows), :mod:`.validation` (pandera
schema, quarantine lines), :mod:`.source` (one export), :mod:`.year` (a fiscal year, outputs, processed tables).
"""

from .reading import SourceError, decode, read_rows
from .registry import load_registry, registry_path, role_source
from .source import SourceResult, convert, ingest_source, known_surnames
from .year import IngestResult, ingest_year, read_identity, read_table, write_outputs

__all__ = ["IngestResult", "SourceError", "SourceResult", "convert", "decode", "ingest_source", "ingest_year",
           "known_surnames", "load_registry", "read_identity", "read_rows", "read_table", "registry_path", "role_source",
           "write_outputs"]
