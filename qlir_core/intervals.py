"""Binance's kline intervals: their length and their spelling in archive paths."""

from __future__ import annotations

from enum import Enum

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


class Interval(Enum):
    """The 16 intervals Binance serves; the value is Binance's spelling (case matters: 1m ≠ 1M)."""

    S1 = "1s"
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"
    MO1 = "1M"

    @classmethod
    def parse(cls, text: str) -> Interval:
        """The interval spelled `text`, or a ValueError listing the valid spellings."""
        try:
            return cls(text)
        except ValueError:
            valid = " ".join(i.value for i in cls)
            raise ValueError(
                f"unknown interval {text!r}; Binance's intervals are: {valid}"
            ) from None

    @property
    def ms(self) -> int:
        """Length in milliseconds; a month has no fixed length, so 1M raises."""
        if self is Interval.MO1:
            raise ValueError("1M is a calendar month and has no fixed length")
        return _LENGTH_MS[self]

    @property
    def tiles_day(self) -> bool:
        """True for the intervals that divide a UTC day (1s … 1d): these are ingested per day."""
        return self is not Interval.MO1 and DAY_MS % self.ms == 0

    @property
    def archive_name(self) -> str:
        """Spelling in archive paths: monthly is `1mo` there, for case-insensitive disks."""
        return "1mo" if self is Interval.MO1 else self.value

    @property
    def per_day(self) -> int:
        """Candles in one full UTC day (only for intervals that tile a day)."""
        if not self.tiles_day:
            raise ValueError(f"interval {self.value} does not divide a day")
        return DAY_MS // self.ms

    def __str__(self) -> str:
        return self.value


_UNIT_MS = {"s": SECOND_MS, "m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": 7 * DAY_MS}
_LENGTH_MS = {i: int(i.value[:-1]) * _UNIT_MS[i.value[-1]] for i in Interval if i.value != "1M"}
