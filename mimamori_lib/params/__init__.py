"""Run parameters: one YAML per run (``params/fy2025.yaml``), read the same way by papermill and JupyterLab.

The schema (pydantic v2, :mod:`.sections`) is the one place for defaults: a params file states only what differs from them,
and code reads the typed values (``p.extraction.tier_band``), never a second default. A file may ``extends:``
another (relative to itself); relative paths inside a file resolve against the file that wrote them. Unknown keys,
wrong types, out-of-range values and malformed YAML stop the load with one Japanese line that names the file and
the key (:class:`ParamsError`). ``mimamori params`` prints the resolved values and this reference.

Modules: :mod:`.sections` (every section and its defaults), :mod:`.model` (the run's parameters and folders),
:mod:`.loading` (reading files, errors, the reference).
"""

from .errors import ParamsError, error_message
from .loading import (
    load_params,
    read_data_file,
    read_yaml,
    read_yaml_file,
    reference,
    run_years,
    year_params,
)
from .model import Params
from .sections import (
    Cases,
    City,
    Disclosure,
    Evaluation,
    Extraction,
    Indicators,
    Ingest,
    Linkage,
    NeedKind,
    Outcome,
    Privacy,
    Ranking,
    Recipient,
    Records,
    Retention,
    Run,
    Sharing,
    Spark,
    Strata,
    Survey,
    SurveyItem,
    SurveyOutcome,
    Synth,
)

__all__ = ["Cases", "City", "Disclosure", "Evaluation", "Extraction", "Indicators", "Ingest", "Linkage", "NeedKind",
           "Outcome", "Params", "ParamsError", "Privacy", "Ranking", "Recipient", "Records", "Retention", "Run", "Sharing", "Spark", "Strata",
           "Survey", "SurveyItem", "SurveyOutcome", "Synth", "error_message", "load_params", "read_data_file",
           "read_yaml", "read_yaml_file", "reference", "run_years", "year_params"]
