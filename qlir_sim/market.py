"""What the exchange serves: the Market interface, the clock's day arithmetic, and mirror mode
(a folder laid out like the archive, served byte for byte and parsed for REST)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from cachetools import LRUCache, cachedmethod

from qlir_core import binance
from qlir_core.binance import DAY_MS, day_of_ms, day_start_ms
from qlir_core.candles import from_csv, open_ms
from qlir_core.errors import InvalidSeries
from qlir_core.series import Series
from qlir_sim.formats import read_zip

FRAME_CACHE_BYTES = 256 * 2**20  # candle tables kept per market, most recently used first


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


def frame_cache() -> LRUCache[tuple[Series, date], pd.DataFrame]:
    """An LRU of candle tables bounded by their memory (FRAME_CACHE_BYTES in all)."""
    return LRUCache(FRAME_CACHE_BYTES, getsizeof=frame_bytes)


def frame_bytes(candles: pd.DataFrame) -> int:
    """Memory held by a candle table, for size-bounded caches."""
    return int(candles.memory_usage(index=False).sum())


def symbols(market: Market) -> list[str]:
    """The symbols a market lists, sorted, each once."""
    return sorted({s.symbol for s in market.series()})


def today(now_ms: int) -> date:
    """The UTC day of the server clock."""
    return day_of_ms(now_ms)


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


class Mirror:
    """Serves the daily zips under `root/data/spot/daily/klines` (the archive's own layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        base = self.root / binance.ARCHIVE_PREFIX
        if not base.is_dir():
            raise ValueError(
                f"{self.root} has no {binance.ARCHIVE_PREFIX}/ folder (the archive layout)"
            )
        self._files = _scan(self.root)
        if not self._files:
            raise ValueError(f"{base} holds no daily kline zips")
        self._frames = frame_cache()
        self._frames_lock = threading.Lock()

    def series(self) -> Sequence[Series]:
        return sorted(self._files, key=lambda s: (s.symbol, s.interval.ms))

    def days(self, series: Series, now_ms: int) -> Sequence[date]:
        last = today(now_ms)
        return [d for d in sorted(self._files.get(series, {})) if d <= last]

    def candles(self, series: Series, day: date, now_ms: int) -> pd.DataFrame:
        return up_to_now(self._frame(series, day), now_ms, series.interval.ms)

    def archive_zip(self, series: Series, day: date, now_ms: int) -> bytes | None:
        path = self._files.get(series, {}).get(day)
        return path.read_bytes() if path is not None and is_past(day, now_ms) else None

    def archive_checksum(self, series: Series, day: date, now_ms: int) -> bytes | None:
        path = self._files.get(series, {}).get(day)
        if path is None or not is_past(day, now_ms):
            return None
        sidecar = path.with_name(path.name + binance.CHECKSUM_SUFFIX)
        return sidecar.read_bytes() if sidecar.is_file() else None

    @cachedmethod(lambda self: self._frames, lock=lambda self: self._frames_lock)
    def _frame(self, series: Series, day: date) -> pd.DataFrame:
        path = self._files[series][day]
        return from_csv(read_zip(path.read_bytes()), source=str(path))


def _scan(root: Path) -> dict[Series, dict[date, Path]]:
    """Every `SYMBOL/INTERVAL/SYMBOL-INTERVAL-YYYY-MM-DD.zip` of a daily series under the root's
    archive folder, by series and day."""
    found: dict[Series, dict[date, Path]] = {}
    for path in sorted((root / binance.ARCHIVE_PREFIX).glob("*/*/*.zip")):
        try:
            symbol, interval, day = binance.parse_archive_url(path.relative_to(root).as_posix())
            series = Series(symbol, interval)
        except (InvalidSeries, ValueError):
            continue  # e.g. 1mo or 1w folders: not daily series
        found.setdefault(series, {})[day] = path
    return found
