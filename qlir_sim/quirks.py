"""Exchange irregularities a synthetic market can carry: halts (gaps) and corrupted days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms
from qlir_core.series import Series
from qlir_sim.market import time_column, utc_ms


@dataclass(frozen=True)
class Halt:
    """The exchange had no candles opening in `[start_ms, end_ms)` (all symbols, all intervals)."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise ValueError(f"a halt must end after it starts: {self.start_ms} → {self.end_ms}")

    @classmethod
    def parse(cls, text: str) -> Halt:
        """`2024-01-02T12:40/2024-01-02T14:00` (UTC; a bare date means its midnight)."""
        start, sep, end = text.partition("/")
        if not sep:
            raise ValueError(
                f"malformed halt {text!r}: expected START/END, "
                "e.g. 2024-01-02T12:40/2024-01-02T14:00"
            )
        return cls(utc_ms(datetime.fromisoformat(start)), utc_ms(datetime.fromisoformat(end)))


class Corruption(Enum):
    """What is wrong with a corrupted day: a candle twice, or a candle off the interval grid."""

    DUP = "dup"
    MISALIGN = "misalign"


@dataclass(frozen=True)
class CorruptDay:
    """One day of one series served wrong, the same way by REST and the archive.

    The affected candle is the middle one of the day (12:00 UTC for intervals up to 12h):
    `dup` repeats it, `misalign` shifts its open and close times by half an interval.
    """

    kind: Corruption
    series: Series
    day: date

    @classmethod
    def parse(cls, text: str) -> CorruptDay:
        """`dup:BTCUSDT-1m:2024-01-02` or `misalign:BTCUSDT-1m:2024-01-02`."""
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(
                f"malformed corrupt day {text!r}: expected KIND:SERIES:DAY, "
                "e.g. dup:BTCUSDT-1m:2024-01-02"
            )
        kinds = ", ".join(k.value for k in Corruption)
        try:
            kind = Corruption(parts[0])
        except ValueError:
            raise ValueError(f"unknown corruption {parts[0]!r} (one of: {kinds})") from None
        return cls(kind, Series.parse(parts[1]), date.fromisoformat(parts[2]))


def without_halts(candles: pd.DataFrame, halts: tuple[Halt, ...]) -> pd.DataFrame:
    """The candles whose open time falls in no halt."""
    if not halts:
        return candles
    opens = open_ms(candles)
    keep = np.ones(len(opens), dtype=bool)
    for halt in halts:
        keep &= (opens < halt.start_ms) | (opens >= halt.end_ms)
    return candles[keep].reset_index(drop=True)


def corrupted(candles: pd.DataFrame, kind: Corruption, interval_ms: int) -> pd.DataFrame:
    """The day with its middle candle repeated (DUP) or shifted by half an interval (MISALIGN)."""
    if candles.empty:
        return candles
    middle = len(candles) // 2
    if kind is Corruption.DUP:
        order = np.insert(np.arange(len(candles)), middle, middle)
        return candles.iloc[order].reset_index(drop=True)
    out = candles.copy()
    for column in ("open_time", "close_time"):
        ms = out[column].astype("int64").to_numpy().copy()
        ms[middle] += interval_ms // 2
        out[column] = time_column(ms)
    return out
