"""What the exchange serves, whatever the data mode: the Market interface and day arithmetic."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms
from qlir_core.intervals import DAY_MS
from qlir_core.series import Series

EPOCH = date(1970, 1, 1)


class Market(Protocol):
    """A source of candles and archive files; `now_ms` is the server clock, data never passes it."""

    def series(self) -> Sequence[Series]:
        """Every series served, in a stable order."""
        ...

    def days(self, series: Series, now_ms: int) -> Sequence[date]:
        """The UTC days (sorted) that may hold candles of `series` at `now_ms`."""
        ...

    def candles(self, series: Series, day: date, now_ms: int) -> pd.DataFrame:
        """The day's candles that opened at or before `now_ms` (a forming one is partial)."""
        ...

    def archive_zip(self, series: Series, day: date, now_ms: int) -> bytes | None:
        """The archive zip of a fully past day, or None (HTTP 404)."""
        ...

    def archive_checksum(self, series: Series, day: date, now_ms: int) -> bytes | None:
        """The zip's `.CHECKSUM` file, or None (HTTP 404)."""
        ...


def frame_bytes(key: object, candles: pd.DataFrame) -> int:
    """Memory held by a candle table, for size-bounded caches."""
    return int(candles.memory_usage(index=False).sum())


def symbols(market: Market) -> list[str]:
    """The symbols a market lists, sorted, each once."""
    return sorted({s.symbol for s in market.series()})


def day_start_ms(day: date) -> int:
    """Epoch milliseconds of a UTC day's midnight."""
    return (day - EPOCH).days * DAY_MS


def day_of(ms: int) -> date:
    """The UTC day containing epoch millisecond `ms`."""
    return EPOCH + timedelta(days=ms // DAY_MS)


def today(now_ms: int) -> date:
    """The UTC day of the server clock."""
    return day_of(now_ms)


def is_past(day: date, now_ms: int) -> bool:
    """True when the whole day has ended: only such days are published in the archive."""
    return day_start_ms(day) + DAY_MS <= now_ms


def utc_ms(moment: datetime) -> int:
    """Epoch milliseconds of a datetime (naive means UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


_ACTIVITY = ("volume", "quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume", "trades")


def up_to_now(candles: pd.DataFrame, now_ms: int, interval_ms: int) -> pd.DataFrame:
    """Candles opened by `now_ms`; the forming one keeps its future close time, partial volumes."""
    opened = candles[open_ms(candles) <= now_ms]
    if opened.empty:
        return opened.reset_index(drop=True)
    out = opened.reset_index(drop=True)
    start = int(open_ms(out)[-1])
    if int(out["close_time"].astype("int64").to_numpy()[-1]) < now_ms:
        return out
    # The last candle is still forming: only the elapsed share of its activity has happened yet.
    share = min(1.0, max(0.001, (now_ms - start) / interval_ms))
    last = {c: float(out[c].to_numpy()[-1]) for c in _ACTIVITY}
    volume = max(round(last["volume"] * share, 5), 1e-5)
    quote = round(last["quote_volume"] * share, 8)
    partial = {
        "volume": volume,
        "quote_volume": quote,
        "taker_buy_base_volume": min(round(last["taker_buy_base_volume"] * share, 5), volume),
        "taker_buy_quote_volume": min(round(last["taker_buy_quote_volume"] * share, 8), quote),
        "trades": max(1, int(last["trades"] * share)),
    }
    out = out.copy()
    for column, value in partial.items():
        values = out[column].to_numpy().copy()
        values[-1] = value
        out[column] = values
    return out


def time_column(ms: np.ndarray) -> pd.Series:
    """Epoch milliseconds as the candle table's time column (datetime64[ms, UTC])."""
    return pd.Series(ms.astype("datetime64[ms]")).dt.tz_localize("UTC")


_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "EUR", "TRY", "BTC", "ETH", "BNB")


def split_symbol(symbol: str) -> tuple[str, str]:
    """(base, quote) by common quote suffixes: BTCUSDT → (BTC, USDT); unknown → (symbol, '')."""
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return symbol, ""
