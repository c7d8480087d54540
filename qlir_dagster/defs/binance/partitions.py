"""Partitions: one static `series` dimension × one daily `day` dimension (today included), for
each endpoint's dataset over the series it keeps (each series group's klines over its own).

Dagster orders dimensions by name and joins them with `|`, so a key reads
`2023-01-21|BTCUSDT-1m`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import dagster as dg

from qlir_core.binance import Endpoint
from qlir_core.series import Series
from qlir_dagster.config import Settings
from qlir_dagster.groups import SeriesGroup

SERIES = "series"
DAY = "day"
KEY_FORMAT = "YYYY-MM-DD|SYMBOL-interval"
_KEY = re.compile(r"(\d{4}-\d{2}-\d{2})\|(.+)")


def series_partitions(series: Sequence[Series]) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([s.key for s in series])


def day_partitions(
    start_date: date, series: dg.StaticPartitionsDefinition
) -> dg.MultiPartitionsDefinition:
    """`series` × days; the studies map onto the very same `series` definition as klines."""
    # end_offset=1 adds the current UTC day, which is stored as partial until it closes.
    days = dg.DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=1)
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


def key_problem(
    key: str,
    settings: Settings,
    today: date,
    endpoint: Endpoint = Endpoint.KLINES,
    group: SeriesGroup | None = None,
) -> str | None:
    """Why `key` is not a partition of `endpoint`'s asset (of `group`'s klines when given), with
    the valid form and range; None if it is one.

    `2030-01-01|BTCUSDT-1m` → "partition key '2030-01-01|BTCUSDT-1m' is invalid: the day is after
    today; expected YYYY-MM-DD|SYMBOL-interval, a day from 2024-01-01 to 2026-12-01 (today, UTC)
    and one of the series BTCUSDT-1m, ETHUSDT-1m"
    """
    series = group.series if group is not None else settings.series_of(endpoint)
    reason = _reason(key.strip(), settings, today, series, endpoint)
    if reason is None:
        return None
    kind = "series" if endpoint is Endpoint.KLINES else f"{endpoint.value} series"
    if group is not None and group.name is not None:
        kind = f"series of group {group.name!r}:"
    return (
        f"partition key {key!r} is invalid: {reason}; expected {KEY_FORMAT}, a day from "
        f"{settings.start_date} to {today} (today, UTC) and one of the {kind} " + _listed(series)
    )


def group_of(key: str, settings: Settings) -> SeriesGroup | None:
    """The configured group holding the series of `key`, if any."""
    match = _KEY.fullmatch(key.strip())
    if match is None:
        return None
    return next((g for g in settings.groups if match[2] in {s.key for s in g.series}), None)


def _listed(series: Sequence[Series], shown: int = 12) -> str:
    if not series:
        return "(none configured)"
    keys = [s.key for s in series[:shown]]
    more = f", … and {len(series) - shown} more" if len(series) > shown else ""
    return ", ".join(keys) + more


def _reason(
    key: str, settings: Settings, today: date, series: Sequence[Series], endpoint: Endpoint
) -> str | None:
    match = _KEY.fullmatch(key)
    if match is None:
        return "not a day and a series"
    try:
        day = date.fromisoformat(match[1])
    except ValueError:
        return f"{match[1]} is not a date"
    if day < settings.start_date:
        return "the day is before the first day (QLIR_START_DATE)"
    if day > today:
        return "the day is after today"
    if match[2] not in {s.key for s in series}:
        if endpoint is not Endpoint.KLINES:
            return "the series is not configured (QLIR_UIKLINES_SERIES)"
        home = group_of(key, settings)
        if home is not None:
            return f"the series is in group {home.name!r} (select {home.selection})"
        return (
            "the series is not configured ("
            + ("QLIR_GROUPS" if settings.groups else "QLIR_SERIES")
            + ")"
        )
    return None
