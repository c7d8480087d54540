"""Planning a day's requests: day-aligned slices of at most 1000 candles, and their identity.

A slice key reads `SYMBOL:interval:start_ms:limit`; its id is a stable 128-bit blake2b of the key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from qlir_core.binance import DAY_MS, MAX_LIMIT, Interval, day_of_ms, day_start_ms
from qlir_core.series import Series

__all__ = [
    "MAX_LIMIT",
    "SliceKey",
    "day_of_ms",
    "day_start_ms",
    "days_between",
    "plan_day",
    "slice_id",
    "whole_day",
]


@dataclass(frozen=True)
class SliceKey:
    """One request's window: `limit` candles of `series` from `start_ms` (inclusive)."""

    series: Series
    start_ms: int
    limit: int

    @property
    def key(self) -> str:
        return f"{self.series.symbol}:{self.series.interval.value}:{self.start_ms}:{self.limit}"

    @property
    def slice_id(self) -> str:
        return slice_id(self.key)

    @property
    def end_ms(self) -> int:
        """Last millisecond the window covers (the close time of its last candle)."""
        return self.start_ms + self.limit * self.series.interval.ms - 1

    @classmethod
    def parse(cls, key: str) -> SliceKey:
        """The inverse of `.key`; ValueError naming the fault for anything else."""
        parts = key.split(":")
        if len(parts) != 4:
            raise ValueError(
                f"slice key {key!r} does not have 4 parts SYMBOL:interval:start_ms:limit"
            )
        symbol, interval, start, limit = parts
        if not start.isdigit() or not limit.isdigit():
            raise ValueError(f"slice key {key!r}: start and limit must be non-negative integers")
        series = Series(symbol, Interval.parse(interval))
        if int(limit) <= 0:
            raise ValueError(f"slice key {key!r}: limit must be positive")
        return cls(series, int(start), int(limit))


def slice_id(key: str) -> str:
    """32 hex characters: blake2b with a 16-byte digest of the slice key."""
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def plan_day(series: Series, day: date, max_limit: int = MAX_LIMIT) -> list[SliceKey]:
    """The REST requests that cover `day`: slices of `max_limit` candles from 00:00 UTC, the last
    one shorter. 1m: 1000 + 440; 1s: 86 × 1000 + 400; 1h: one slice of 24."""
    start = day_start_ms(day)
    step = series.interval.ms
    total = DAY_MS // step
    return [
        SliceKey(series, start + offset * step, min(max_limit, total - offset))
        for offset in range(0, total, max_limit)
    ]


def whole_day(series: Series, day: date) -> SliceKey:
    """The archive's one request for a day, written as a single slice of the whole day."""
    return SliceKey(series, day_start_ms(day), series.interval.per_day)


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
