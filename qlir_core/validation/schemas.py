"""pandera models of the candle table and the manifest: the one place their checks live.

A check that reports under a validation rule carries the `Rule` on the check itself
(`rule_check`, `rule_frame_check`); any other check (a Field's `isin`, `ge`, …) and everything
structural (columns, dtypes, nulls) reports under the table's structure rule (see `TableModel`).
`columns(model)` lists a model's columns for a catalog's column schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series as Column

from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.validation.rules import Rule

OHLC_COLUMNS = ("open", "high", "low", "close")
NON_NEGATIVE_COLUMNS = (
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)
TAKER_COLUMNS = ("volume", "taker_buy_base_volume", "quote_volume", "taker_buy_quote_volume")
_MS_UTC = {"unit": "ms", "tz": "UTC"}

# pandera keeps a check's `statistics` verbatim on the Check object and passes them nowhere
# else (the check function gets its own keyword arguments), so the rule travels there.
RULE_KEY = "qlir_rule"
READS_KEY = "qlir_reads"
ClassCheck = Callable[[Callable[..., Any]], Any]


def rule_check(rule: Rule, *columns: str) -> ClassCheck:
    """`@pa.check(*columns)` whose failures report under `rule`."""
    decorate: ClassCheck = pa.check(*columns, statistics={RULE_KEY: rule})
    return decorate


def rule_frame_check(rule: Rule, reads: tuple[str, ...]) -> ClassCheck:
    """`@pa.dataframe_check` whose failures report under `rule`; `reads` names the columns the
    check reads (it runs only when they are usable, and its cases show their values)."""
    decorate: ClassCheck = pa.dataframe_check(statistics={RULE_KEY: rule, READS_KEY: reads})
    return decorate


def rule_of(check: pa.Check) -> Rule | None:
    """The rule a check reports under, or None for a plain pandera check."""
    rule = (check.statistics or {}).get(RULE_KEY)
    return rule if isinstance(rule, Rule) else None


def reads_of(check: pa.Check) -> tuple[str, ...]:
    """The columns a dataframe-wide check declared it reads (none for other checks)."""
    reads = (check.statistics or {}).get(READS_KEY, ())
    return tuple(reads)


class CandleSchema(pa.DataFrameModel):
    """The candle table of one partition (qlir_core.candles): exactly these columns and dtypes.
    The 12th kline field ("ignore") is not stored, so it is never validated."""

    open_time: Column[pd.DatetimeTZDtype] = pa.Field(
        dtype_kwargs=_MS_UTC, description="when the candle opens (UTC, ms)"
    )
    open: Column[np.float64] = pa.Field(description="first trade price")
    high: Column[np.float64] = pa.Field(description="highest trade price")
    low: Column[np.float64] = pa.Field(description="lowest trade price")
    close: Column[np.float64] = pa.Field(description="last trade price")
    volume: Column[np.float64] = pa.Field(description="base asset volume")
    close_time: Column[pd.DatetimeTZDtype] = pa.Field(
        dtype_kwargs=_MS_UTC, description="the candle's last millisecond (UTC, ms)"
    )
    quote_volume: Column[np.float64] = pa.Field(description="quote asset volume")
    trades: Column[np.int64] = pa.Field(description="number of trades")
    taker_buy_base_volume: Column[np.float64] = pa.Field(description="base volume bought by takers")
    taker_buy_quote_volume: Column[np.float64] = pa.Field(
        description="quote volume bought by takers"
    )

    class Config:
        strict = True
        name = "candles"

    # The checks compute in numpy and wrap the result once: pandas operators cost ~50 µs each.
    @rule_check(Rule.NON_NEGATIVE, *NON_NEGATIVE_COLUMNS)
    def non_negative(cls, values: pd.Series[float]) -> pd.Series[bool]:
        return pd.Series(values.to_numpy() >= 0, index=values.index)

    @rule_frame_check(Rule.OHLC_ORDER, OHLC_COLUMNS)
    def ohlc_order(cls, frame: pd.DataFrame) -> pd.Series[bool]:
        o, h, lo, c = (frame[name].to_numpy() for name in OHLC_COLUMNS)
        return pd.Series((lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h), index=frame.index)

    @rule_frame_check(Rule.TAKER_VOLUME, TAKER_COLUMNS)
    def taker_volume(cls, frame: pd.DataFrame) -> pd.Series[bool]:
        v, tb, q, tq = (frame[name].to_numpy() for name in TAKER_COLUMNS)
        return pd.Series((tb <= v) & (tq <= q), index=frame.index)


def _values(enum: type[Source | SliceStatus | StatusReason]) -> list[str]:
    return [e.value for e in enum]  # the spellings the ledger stores


class ManifestSchema(pa.DataFrameModel):
    """The request ledger of one partition, as `qlir_core.manifest.to_frame` writes it."""

    slice_key: Column[pd.StringDtype]
    slice_id: Column[pd.StringDtype]
    source: Column[pd.StringDtype] = pa.Field(isin=_values(Source))
    url: Column[pd.StringDtype]
    start_ms: Column[np.int64]
    end_ms: Column[np.int64]
    limit: Column[np.int64]
    status: Column[pd.StringDtype] = pa.Field(isin=_values(SliceStatus))
    reason: Column[pd.StringDtype] = pa.Field(isin=_values(StatusReason))
    http_status: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    n_candles: Column[np.int64] = pa.Field(ge=0)
    first_open_ms: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    last_open_ms: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    requested_at: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    completed_at: Column[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_MS_UTC)
    duration_ms: Column[np.float64]
    bytes: Column[np.int64] = pa.Field(ge=0)
    used_weight: Column[pd.Int64Dtype] = pa.Field(nullable=True)
    attempt: Column[np.int64] = pa.Field(ge=1)
    # Optional: ledgers written before it existed lack the column.
    persist_ms: Column[np.float64] | None = pa.Field(nullable=True)

    class Config:
        strict = True
        name = "manifest"


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a model, as plain values (for a catalog's column schema)."""

    name: str
    dtype: str
    description: str
    nullable: bool


def columns(model: type[pa.DataFrameModel]) -> tuple[ColumnInfo, ...]:
    """The model's columns in order: name, dtype (`datetime64[ms, UTC]`, `float64`, …),
    description and whether it may hold nulls."""
    return tuple(
        ColumnInfo(name, str(column.dtype), column.description or "", bool(column.nullable))
        for name, column in model.to_schema().columns.items()
    )


def candle_columns() -> tuple[ColumnInfo, ...]:
    """The stored candle table's columns, from `CandleSchema`."""
    return columns(CandleSchema)
