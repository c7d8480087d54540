"""Partitions: one static `series` dimension × one daily `day` dimension (today included).

Dagster orders dimensions by name and joins them with `|`, so a key reads
`2023-01-21|BTCUSDT-1m`.
"""

from __future__ import annotations

from datetime import date

import dagster as dg

from qlir_core.series import Series
from qlir_dagster.config import Settings

SERIES = "series"
DAY = "day"


def series_partitions(settings: Settings) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([s.key for s in settings.series])


def klines_partitions(
    settings: Settings, series: dg.StaticPartitionsDefinition
) -> dg.MultiPartitionsDefinition:
    """`series` × days; the studies map onto the very same `series` definition."""
    # end_offset=1 adds the current UTC day, which is stored as partial until it closes.
    days = dg.DailyPartitionsDefinition(start_date=settings.start_date.isoformat(), end_offset=1)
    return dg.MultiPartitionsDefinition({SERIES: series, DAY: days})


def split_key(key: str | dg.MultiPartitionKey) -> tuple[Series, date]:
    """`2023-01-21|BTCUSDT-1m` → (Series BTCUSDT-1m, 2023-01-21)."""
    if not isinstance(key, dg.MultiPartitionKey):
        day, _, series = key.partition("|")
        key = dg.MultiPartitionKey({DAY: day, SERIES: series})
    dims = key.keys_by_dimension
    return Series.parse(dims[SERIES]), date.fromisoformat(dims[DAY])


def partition_key(series: Series, day: date) -> str:
    return str(dg.MultiPartitionKey({DAY: day.isoformat(), SERIES: series.key}))
