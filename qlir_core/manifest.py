"""The manifest: one row per request ("slice") per partition, the ledger of how data was fetched.

Statuses and reasons are enums in the program; they become strings only in `to_frame`,
`to_arrow` and `from_frame`, where the ledger is written or read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from qlir_core.slices import SliceKey


class Source(Enum):
    REST = "rest"
    ARCHIVE = "archive"


class SliceStatus(Enum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    EMPTY = "empty"
    FAILED = "failed"


class StatusReason(Enum):
    NONE = "none"
    HISTORICAL_SPARSITY = "historical_sparsity"  # the exchange has no candles there (a halt)
    STILL_FORMING = "still_forming"  # the window reaches past now
    AWAITING_UPSTREAM = "awaiting_upstream"  # the window has not started yet
    NO_DATA = "no_data"  # a past window with no candles at all
    NOT_PUBLISHED = "not_published"  # the archive has no file for the day
    HTTP_ERROR = "http_error"
    RATE_LIMITED = "rate_limited"
    BANNED = "banned"
    NETWORK_UNAVAILABLE = "network_unavailable"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    MALFORMED = "malformed"
    INVALID_SYMBOL = "invalid_symbol"
    # What was wrong with a malformed payload (each Malformation, by ingest.MALFORMED_REASONS).
    TRUNCATED_BODY = "truncated_body"
    NOT_KLINES = "not_klines"
    BAD_FIELD_COUNT = "bad_field_count"
    NON_NUMERIC_FIELD = "non_numeric_field"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE_CANDLES = "duplicate_candles"
    OUTSIDE_WINDOW = "outside_window"
    BAD_ZIP = "bad_zip"
    TRUNCATED_CSV = "truncated_csv"
    BAD_CSV = "bad_csv"


@dataclass(frozen=True)
class ManifestRow:
    """What one request asked for, what came back and how long it took."""

    slice_key: str
    slice_id: str
    source: Source
    url: str
    start_ms: int
    end_ms: int
    limit: int
    status: SliceStatus
    reason: StatusReason
    http_status: int | None
    n_candles: int
    first_open_ms: int | None
    last_open_ms: int | None
    requested_at: pd.Timestamp
    completed_at: pd.Timestamp
    duration_ms: float
    bytes: int
    used_weight: int | None
    attempt: int = 1
    # The partition's persist up to writing this ledger (lock, read, decide), the same on each
    # of its rows; None before it is persisted, and in ledgers written before the column existed.
    # Not compared: a row read back equals the row fetched.
    persist_ms: float | None = field(default=None, compare=False)


COLUMNS = tuple(f.name for f in fields(ManifestRow))
_ENUMS: dict[str, type[Enum]] = {"source": Source, "status": SliceStatus, "reason": StatusReason}
_NULLABLE_INT = ("http_status", "first_open_ms", "last_open_ms", "used_weight")
_TIMES = ("requested_at", "completed_at")
_FLOATS = ("duration_ms", "persist_ms")
_STRINGS = ("slice_key", "slice_id", "url")  # every other column is int64


def classify(window: SliceKey, n_candles: int, now_ms: int) -> tuple[SliceStatus, StatusReason]:
    """Status of a request that returned `n_candles` final candles for `window` at `now_ms`."""
    if n_candles >= window.limit:
        return SliceStatus.COMPLETE, StatusReason.NONE
    if now_ms <= window.start_ms:
        return SliceStatus.EMPTY, StatusReason.AWAITING_UPSTREAM
    if now_ms <= window.end_ms:
        return SliceStatus.PARTIAL, StatusReason.STILL_FORMING
    if n_candles == 0:
        return SliceStatus.EMPTY, StatusReason.NO_DATA
    return SliceStatus.COMPLETE, StatusReason.HISTORICAL_SPARSITY


def to_frame(rows: list[ManifestRow]) -> pd.DataFrame:
    """The ledger as a table, enums written as their string values."""
    # Column by column with each column's dtype: one array per column instead of a frame of
    # objects cast afterwards (a ledger is written and validated for every partition).
    frame = pd.DataFrame(
        {name: _column(name, [getattr(r, name) for r in rows]) for name in COLUMNS},
        columns=list(COLUMNS),
    )
    if frame["persist_ms"].isna().all():
        # Not persisted through `publish.publish_partition`: the ledger is written as before the
        # column existed, byte for byte (a version id hashes these bytes).
        return frame.drop(columns=["persist_ms"])
    return frame


def to_arrow(rows: list[ManifestRow], *, persisted: bool = True) -> pa.Table:
    """The ledger as the Arrow table `to_frame` would give (pandas' schema included, so it is
    stored byte for byte alike and reads back to the same frame), built without pandas: a
    publish writes one per partition. Without `persisted` the persist times are left out, as
    for rows that have none."""
    with_persist = persisted and not all(pd.isna(r.persist_ms) for r in rows)
    schema = _arrow_schema(with_persist)
    # from_pandas: a NaN float is missing, as in the frame
    columns = [
        pa.array([_value(getattr(r, f.name)) for r in rows], f.type, from_pandas=True)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


@cache
def _arrow_schema(with_persist: bool) -> pa.Schema:
    template = to_frame([])
    if with_persist:
        template = template.assign(persist_ms=np.array([], dtype=np.float64))
    return pa.Schema.from_pandas(template, preserve_index=False)


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, pd.Timestamp):
        return value.as_unit("ms")
    return value


def _column(name: str, values: list[Any]) -> Any:
    if name in _ENUMS:
        return pd.array([e.value for e in values], dtype="string")
    if name in _TIMES:
        return pd.to_datetime(values, utc=True).astype("datetime64[ms, UTC]")
    if name in _NULLABLE_INT:
        return pd.array(values, dtype="Int64")
    if name in _FLOATS:
        return np.array(values, dtype=np.float64)  # None → NaN
    if name in _STRINGS:
        return pd.array(values, dtype="string")
    return np.array(values, dtype=np.int64)


def from_frame(frame: pd.DataFrame) -> list[ManifestRow]:
    """Rows read back from a stored ledger, strings turned back into enums (a ledger written
    before `persist_ms` existed reads with None there)."""
    rows = []
    for record in frame.reindex(columns=list(COLUMNS)).to_dict("records"):
        for name, enum in _ENUMS.items():
            record[name] = enum(record[name])
        for name in _NULLABLE_INT:
            record[name] = None if pd.isna(record[name]) else int(record[name])
        persisted = record["persist_ms"]
        record["persist_ms"] = None if pd.isna(persisted) else float(persisted)
        rows.append(ManifestRow(**{str(k): v for k, v in record.items()}))
    return rows
