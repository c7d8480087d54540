"""Validation of stored partitions (PRODUCT.md §5), with no Dagster in it.

    validate_partition(series, day, candles, manifest, now_ms=…) -> PartitionReport
    validate_store(store, now_ms=…, series=…, days=…)             -> [PartitionReport, …]

Every rule has a stable name (`Rule`) and a severity: ERROR for corruption, WARN for the
exchange's own gaps and truncated bars, INFO for what the current day has not fetched yet.
The candle table and the manifest are pandera `DataFrameModel`s (`CandleSchema`,
`ManifestSchema`); times, spacing, gaps and completeness are numpy.
"""

from qlir_core.validation.partition import MAX_CASES, validate_partition
from qlir_core.validation.report import (
    CASE_COLUMNS,
    GAP_COLUMNS,
    FailureCase,
    Finding,
    GapRun,
    PartitionReport,
    Summary,
)
from qlir_core.validation.rules import GapCause, Rule, Severity
from qlir_core.validation.schemas import CandleSchema, ManifestSchema
from qlir_core.validation.slice_rules import UrlParts, parse_url
from qlir_core.validation.store import validate_store

__all__ = [
    "CASE_COLUMNS",
    "GAP_COLUMNS",
    "MAX_CASES",
    "CandleSchema",
    "FailureCase",
    "Finding",
    "GapCause",
    "GapRun",
    "ManifestSchema",
    "PartitionReport",
    "Rule",
    "Severity",
    "Summary",
    "UrlParts",
    "parse_url",
    "validate_partition",
    "validate_store",
]
