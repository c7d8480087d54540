"""Validating one partition: its manifest, its candles and how the two fit together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from qlir_core import candles as candle_table
from qlir_core import manifest as ledger
from qlir_core.binance import Endpoint
from qlir_core.series import Series
from qlir_core.validation.candle_rules import check_candle_times
from qlir_core.validation.completeness import check_completeness, check_slice_candles
from qlir_core.validation.context import Findings, Partition
from qlir_core.validation.report import FailureCase, GapRun, PartitionReport, Summary
from qlir_core.validation.rules import GapCause, Rule, Severity
from qlir_core.validation.schemas import CandleSchema, ManifestSchema
from qlir_core.validation.slice_rules import (
    SLICE_COLUMNS,
    Slice,
    check_slices,
    check_spacing,
    latest_attempts,
)
from qlir_core.validation.tables import TableModel

MAX_CASES = 20
CANDLES = TableModel(CandleSchema, structure=Rule.CANDLE_COLUMNS)
MANIFEST = TableModel(ManifestSchema, structure=Rule.MANIFEST_COLUMNS)


def validate_partition(
    series: Series,
    day: date,
    candles: pd.DataFrame,
    manifest: pd.DataFrame | Sequence[ledger.ManifestRow],
    *,
    now_ms: int,
    endpoint: Endpoint = Endpoint.KLINES,
    max_cases: int = MAX_CASES,
) -> PartitionReport:
    """Every rule over one partition of `endpoint`'s dataset: `candles` as stored, `manifest`
    as `manifest.to_frame` writes it (or its rows). `now_ms` decides what is due: the whole day
    once it has ended, the candles closed by then on the current day. Failure tables keep
    `max_cases` per rule."""
    part = Partition.of(series, day, now_ms, endpoint)
    found = Findings(part, max_cases)
    frame = manifest if isinstance(manifest, pd.DataFrame) else ledger.to_frame(list(manifest))
    frame, table = _positional(frame), _positional(candles)

    usable = _schema_rules(
        MANIFEST, frame, found, lambda c, row: replace(c, slice_key=_key_at(frame, row))
    )
    latest: list[Slice] = []
    covered = part.start_ms
    if usable.issuperset(SLICE_COLUMNS):
        latest = latest_attempts(check_slices(frame, part, found), part)
        covered = check_spacing(latest, part, found)

    usable = _schema_rules(
        CANDLES, table, found, lambda c, row: replace(c, open_time_ms=_open_at(table, row))
    )
    runs: tuple[GapRun, ...] = ()
    if usable.issuperset(candle_table.COLUMNS):
        opens, closes = _epoch_ms(table, "open_time"), _epoch_ms(table, "close_time")
        check_candle_times(table, opens, closes, part, found)
        runs = check_completeness(opens, latest, covered, part, found)
        increasing = bool((np.diff(opens) > 0).all())
        check_slice_candles(opens if increasing else np.sort(opens), latest, found)

    findings = found.build()
    missing = {c: sum(r.count for r in runs if r.cause is c) for c in GapCause}
    per_severity = {s: sum(f.count for f in findings if f.severity is s) for s in Severity}
    summary = Summary(
        rows=len(table),
        expected_rows=part.expected_rows,
        missing=sum(missing.values()),
        missing_exchange=missing[GapCause.EXCHANGE],
        missing_fetch=missing[GapCause.FETCH],
        missing_pending=missing[GapCause.PENDING],
        gap_runs=len(runs),
        errors=per_severity[Severity.ERROR],
        warnings=per_severity[Severity.WARN],
        infos=per_severity[Severity.INFO],
    )
    return PartitionReport(series, day, findings, runs, summary)


def _schema_rules(
    model: TableModel,
    frame: pd.DataFrame,
    found: Findings,
    locate: Callable[[FailureCase, int], FailureCase],
) -> frozenset[str]:
    """The pandera schema's rules; `locate` names the slice or candle of a case's row.
    Returns the columns the other rules can read."""
    result = model.validate(frame, found.max_cases)
    for rule, (count, cases) in result.rules.items():
        found.add(rule, count, (c if c.row is None else locate(c, c.row) for c in cases))
    return result.usable


def _epoch_ms(table: pd.DataFrame, column: str) -> npt.NDArray[np.int64]:
    """A datetime64[ms, UTC] column as epoch milliseconds (a view, no conversion)."""
    return table[column].to_numpy(dtype="datetime64[ms]").view(np.int64)


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows numbered 0…n-1, so failure cases can name positions."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def _key_at(frame: pd.DataFrame, row: int) -> str | None:
    if "slice_key" not in frame.columns:
        return None
    value = frame["slice_key"].iloc[row]
    return None if pd.isna(value) else str(value)


def _open_at(frame: pd.DataFrame, row: int) -> int | None:
    if "open_time" not in CANDLES.usable(frame):
        return None
    value = frame["open_time"].iloc[row]
    return None if pd.isna(value) else int(value.value // 1_000_000)
