"""Validation of stored partitions (PRODUCT.md §5), with no Dagster in it.

    validate_partition(series, day, candles, manifest, now_ms=…) -> PartitionReport
    validate_store(store, now_ms=…, series=…, days=…)             -> [PartitionReport, …]

Every rule has a stable name (`Rule`) and a severity: ERROR for corruption, WARN for the
exchange's own gaps and truncated bars, INFO for what the current day has not fetched yet.
The candle table and the manifest are pandera `DataFrameModel`s (`CandleSchema`,
`ManifestSchema`), the one source of their checks: a check carries its rule (`rule_check`,
`rule_frame_check`) and `TableModel` derives a fast screen from the model. `candle_columns()`
lists the candle table's columns for a catalog. Times, spacing, gaps and completeness are numpy.
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
from qlir_core.validation.schemas import (
    CandleSchema,
    ColumnInfo,
    ManifestSchema,
    candle_columns,
    rule_check,
    rule_frame_check,
)
from qlir_core.validation.slice_rules import UrlParts, parse_url
from qlir_core.validation.store import validate_store
from qlir_core.validation.tables import ModelCheck, TableModel

__all__ = [
    "CASE_COLUMNS",
    "GAP_COLUMNS",
    "MAX_CASES",
    "CandleSchema",
    "ColumnInfo",
    "FailureCase",
    "Finding",
    "GapCause",
    "GapRun",
    "ManifestSchema",
    "ModelCheck",
    "PartitionReport",
    "Rule",
    "Severity",
    "Summary",
    "TableModel",
    "UrlParts",
    "candle_columns",
    "parse_url",
    "rule_check",
    "rule_frame_check",
    "validate_partition",
    "validate_store",
]
