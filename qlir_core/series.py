"""Series keys: a symbol at an interval, written `BTCUSDT-1m`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qlir_core.errors import InvalidSeries
from qlir_core.intervals import Interval

_SYMBOL = re.compile(r"^[A-Z0-9]{2,20}$")


@dataclass(frozen=True, order=True)
class Series:
    """One (symbol, interval) pair. Only intervals that tile a UTC day can be day-partitioned."""

    symbol: str
    interval: Interval

    def __post_init__(self) -> None:
        if not _SYMBOL.match(self.symbol):
            raise InvalidSeries(
                f"malformed symbol {self.symbol!r}: expected 2-20 characters A-Z or 0-9, "
                "such as BTCUSDT"
            )
        if not self.interval.tiles_day:
            raise InvalidSeries(
                f"interval {self.interval.label} is not supported for day partitions "
                "(supported: 1s … 1d, the intervals that divide a day)"
            )

    @classmethod
    def parse(cls, key: str) -> Series:
        """`BTCUSDT-1m` → Series('BTCUSDT', Interval.M1); a clear InvalidSeries otherwise."""
        symbol, sep, interval = key.strip().partition("-")
        if not sep or not symbol or not interval:
            raise InvalidSeries(
                f"malformed series key {key!r}: expected SYMBOL-INTERVAL, e.g. BTCUSDT-1m"
            )
        try:
            parsed = Interval.parse(interval)
        except ValueError as e:
            raise InvalidSeries(f"series key {key!r}: {e}") from None
        return cls(symbol, parsed)

    @property
    def key(self) -> str:
        return f"{self.symbol}-{self.interval.value}"

    def __str__(self) -> str:
        return self.key


def parse_series_list(text: str) -> list[Series]:
    """A comma-separated list of series keys, in order, without duplicates."""
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise InvalidSeries("the series list is empty")
    return list(dict.fromkeys(Series.parse(k) for k in keys))
