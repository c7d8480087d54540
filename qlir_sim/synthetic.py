"""Synthetic mode: deterministic candles for any symbols and intervals, made a day at a time:
a random walk per day, its archive zips built ahead on a worker thread."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from cachetools import LRUCache, cachedmethod

from qlir_core import binance
from qlir_core.binance import DAY_MS, HOUR_MS, Interval, day_start_ms
from qlir_core.candles import COLUMNS, empty
from qlir_core.series import Series
from qlir_sim.faults import CorruptDay, Halt, corrupted, without_halts
from qlir_sim.formats import checksum_file, micros_csv, pack_zip, to_csv
from qlir_sim.market import frame_cache, is_past, split_symbol, time_column, today, up_to_now

# The archive writes spot times in microseconds from this day on (binance-public-data README).
ARCHIVE_MICROS_FROM = binance.MICROS_SINCE
_ANCHOR_BLOCK = 256  # day opens are drawn in blocks, so extending the range never changes old days
_MEAN_REVERSION = 0.01  # keeps multi-year prices within a plausible band around the start price
AHEAD = 2  # archive days built ahead of each request read in day order
_ZIP_CACHE_BYTES = 256 * 2**20
_BYTES_PER_CANDLE = 70  # a deflated CSV row: sizes the zip cache before the zip exists
VOLUME_DECIMALS = 5

Key = tuple[Series, date]


@dataclass(frozen=True)
class _Profile:
    """A symbol's character: where its price starts, how much it moves and trades."""

    price: float
    daily_vol: float
    quote_volume_per_day: float

    @property
    def decimals(self) -> int:
        """About six significant digits at the start price, between 2 and 8 decimals."""
        return int(min(8, max(2, 5 - np.floor(np.log10(self.price)))))


_KNOWN = {
    "BTC": _Profile(42_000.0, 0.025, 1.5e9),
    "ETH": _Profile(2_300.0, 0.03, 8e8),
    "SOL": _Profile(100.0, 0.045, 3e8),
    "BNB": _Profile(310.0, 0.03, 1.5e8),
}


class Synthetic:
    """Random-walk candles, the same for the same arguments, continuous from day to day.

    `days=None` leaves the range open: candles run up to the server's clock, the last one forming.
    Archive zips exist for fully past days only; halts and corrupt days apply to REST and archive.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        intervals: Iterable[str | Interval],
        start: date,
        days: int | None = 30,
        seed: int = 0,
        *,
        halts: Iterable[Halt | str] = (),
        corrupt_days: Iterable[CorruptDay | str] = (),
        archive_micros_from: date | None = ARCHIVE_MICROS_FROM,
    ) -> None:
        wanted = [i if isinstance(i, Interval) else Interval.parse(i) for i in intervals]
        self._series = [Series(s, i) for s in dict.fromkeys(symbols) for i in dict.fromkeys(wanted)]
        if not self._series:
            raise ValueError("a synthetic market needs at least one symbol and one interval")
        if days is not None and days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        self.start = start
        self.end = None if days is None else start + timedelta(days=days)
        self.seed = seed
        self.halts = tuple(h if isinstance(h, Halt) else Halt.parse(h) for h in halts)
        corrupt = [c if isinstance(c, CorruptDay) else CorruptDay.parse(c) for c in corrupt_days]
        unknown = [c for c in corrupt if c.series not in self._series]
        if unknown:
            raise ValueError(f"corrupt day for a series not served: {unknown[0].series}")
        self._corrupt = {(c.series, c.day): c.kind for c in corrupt}
        self._micros_from = archive_micros_from
        self._anchors: dict[str, np.ndarray] = {}
        self._profiles: dict[str, _Profile] = {}
        self._lock = threading.Lock()
        self._frames = frame_cache()
        self._frames_lock = threading.Lock()
        self._zips = ZipShelf(self._pack)

    def series(self) -> Sequence[Series]:
        return list(self._series)

    def days(self, series: Series, now_ms: int) -> Sequence[date]:
        last = today(now_ms)
        if self.end is not None:
            last = min(last, self.end - timedelta(days=1))
        return [self.start + timedelta(days=i) for i in range((last - self.start).days + 1)]

    def candles(self, series: Series, day: date, now_ms: int) -> pd.DataFrame:
        if not self._covers(series, day):
            return empty()
        return up_to_now(self.full_day(series, day), now_ms, series.interval.ms)

    def archive_zip(self, series: Series, day: date, now_ms: int) -> bytes | None:
        if not (self._covers(series, day) and is_past(day, now_ms)):
            return None
        ahead = [d for d in next_days(day, AHEAD) if self._covers(series, d) and is_past(d, now_ms)]
        return self._zips.get(series, day, ahead) or None

    def archive_checksum(self, series: Series, day: date, now_ms: int) -> bytes | None:
        data = self.archive_zip(series, day, now_ms)
        return None if data is None else checksum_file(data, binance.archive_zip_name(series, day))

    @cachedmethod(lambda self: self._frames, lock=lambda self: self._frames_lock)
    def full_day(self, series: Series, day: date) -> pd.DataFrame:
        """All of a covered day's candles, halts and corruption applied, regardless of the clock."""
        return self._generate(series, day)

    def _covers(self, series: Series, day: date) -> bool:
        in_range = self.start <= day and (self.end is None or day < self.end)
        return in_range and series in self._series

    def _generate(self, series: Series, day: date) -> pd.DataFrame:
        index = (day - self.start).days
        opens = self._day_opens(series.symbol, index + 1)
        profile = self._profile(series.symbol)
        plan = DayPlan(
            day_start_ms=day_start_ms(day),
            interval_ms=series.interval.ms,
            open_price=float(opens[index]),
            next_open=float(opens[index + 1]),
            decimals=profile.decimals,
            daily_vol=profile.daily_vol,
            quote_volume_per_day=profile.quote_volume_per_day,
        )
        rng = np.random.default_rng([self.seed, _crc(series.symbol), series.interval.ms, index])
        frame = without_halts(walk_day(plan, rng), self.halts)
        kind = self._corrupt.get((series, day))
        return frame if kind is None else corrupted(frame, kind, series.interval.ms)

    def _pack(self, series: Series, day: date) -> bytes:
        """The day's archive zip; empty bytes when a halt covers the whole day (no file)."""
        frame = self.full_day(series, day)
        if frame.empty:
            return b""
        csv = to_csv(frame)
        if self._micros_from is not None and day >= self._micros_from:
            csv = micros_csv(csv)
        name = binance.archive_zip_name(series, day).removesuffix(".zip") + ".csv"
        return pack_zip(name, csv, day)

    def _profile(self, symbol: str) -> _Profile:
        """The symbol's profile: majors as known, others from a hash; jittered by the seed."""
        if symbol not in self._profiles:
            self._profiles[symbol] = self._make_profile(symbol)
        return self._profiles[symbol]

    def _make_profile(self, symbol: str) -> _Profile:
        base, _ = split_symbol(symbol)
        crc = _crc(symbol)
        known = _KNOWN.get(base, _Profile(10 ** (crc % 400 / 100 - 1), 0.05, 5e7))
        jitter = np.random.default_rng([self.seed, crc, 1]).normal(0.0, 0.05)
        return _Profile(
            known.price * float(np.exp(jitter)), known.daily_vol, known.quote_volume_per_day
        )

    def _day_opens(self, symbol: str, last_index: int) -> np.ndarray:
        """Rounded opening prices of days 0..last_index: a mean-reverting daily log-price walk."""
        with self._lock:
            logs = self._anchors.get(symbol)
            if logs is None or len(logs) <= last_index:
                logs = self._extend(symbol, logs, last_index)
                self._anchors[symbol] = logs
        profile = self._profile(symbol)
        tick = 10.0**-profile.decimals
        opens: np.ndarray = np.round(np.exp(logs[: last_index + 1]), profile.decimals)
        opens[opens < tick] = tick
        return opens

    def _extend(self, symbol: str, logs: np.ndarray | None, last_index: int) -> np.ndarray:
        profile = self._profile(symbol)
        origin = float(np.log(profile.price))
        values = [origin] if logs is None else logs.tolist()
        while len(values) <= last_index:
            block = (len(values) - 1) // _ANCHOR_BLOCK
            shocks = np.random.default_rng([self.seed, _crc(symbol), 2, block]).normal(
                0.0, profile.daily_vol, _ANCHOR_BLOCK
            )
            for shock in shocks.tolist():
                x = values[-1]
                values.append(x + shock - _MEAN_REVERSION * (x - origin))
        return np.array(values, dtype=np.float64)


def _crc(text: str) -> int:
    """A stable (unlike hash()) integer for seeding from a name."""
    return zlib.crc32(text.encode())


@dataclass(frozen=True)
class DayPlan:
    """Everything one day's walk depends on, besides its random generator."""

    day_start_ms: int
    interval_ms: int
    open_price: float
    next_open: float  # the day's last close: the next day starts from it
    decimals: int  # price tick = 10**-decimals
    daily_vol: float  # standard deviation of the day's log return
    quote_volume_per_day: float


def walk_day(plan: DayPlan, rng: np.random.Generator) -> pd.DataFrame:
    """The day's candles: a Brownian bridge from open to next open; wicks, volumes, trades."""
    n = DAY_MS // plan.interval_ms
    sigma = plan.daily_vol / np.sqrt(n)
    # Volatility clusters: a slowly varying multiplier, so quiet and busy stretches alternate.
    regime = np.exp(np.convolve(rng.normal(0, 0.35, n), np.ones(8) / 8)[:n] * 2)
    steps = rng.normal(0.0, sigma, n) * regime
    path = np.cumsum(steps)
    share = np.arange(1, n + 1) / n
    target = np.log(plan.next_open / plan.open_price)
    closes = plan.open_price * np.exp(path - share * path[-1] + share * target)

    tick = 10.0**-plan.decimals
    closes = np.maximum(np.round(closes, plan.decimals), tick)
    closes[-1] = plan.next_open
    opens = np.concatenate(([plan.open_price], closes[:-1]))
    body_high = np.maximum(opens, closes)
    body_low = np.minimum(opens, closes)
    wick = np.abs(rng.normal(0.0, sigma * 0.7, (2, n))) * regime
    highs = np.maximum(np.round(body_high * np.exp(wick[0]), plan.decimals), body_high)
    lows = np.minimum(np.round(body_low * np.exp(-wick[1]), plan.decimals), body_low)
    lows = np.where(lows > 0, lows, body_low)

    opens_ms = plan.day_start_ms + np.arange(n, dtype=np.int64) * plan.interval_ms
    hours = (opens_ms % DAY_MS) / HOUR_MS
    diurnal = 1.0 + 0.4 * np.cos(2 * np.pi * (hours - 15.0) / 24.0)  # busiest around 15:00 UTC
    activity = rng.lognormal(0.0, 0.5, n) * diurnal * (1.0 + 0.5 * np.abs(steps) / sigma)
    typical = (opens + highs + lows + closes) / 4.0
    quote_target = plan.quote_volume_per_day / n * activity / activity.mean()
    volume = np.maximum(np.round(quote_target / typical, VOLUME_DECIMALS), 10.0**-VOLUME_DECIMALS)
    quote = np.round(volume * typical, 8)
    taker_share = rng.beta(8.0, 8.0, n)
    taker = np.minimum(np.round(volume * taker_share, VOLUME_DECIMALS), volume)
    taker_quote = np.minimum(np.round(taker * typical, 8), quote)
    trade_size = 150.0 * rng.lognormal(0.0, 0.3, n)  # quote currency per trade
    trades = np.maximum(np.round(quote / trade_size), 1).astype(np.int64)

    values = {
        "open_time": time_column(opens_ms),
        "open": opens,
        "high": highs,
        "low": lows,
        "close": closes,
        "volume": volume,
        "close_time": time_column(opens_ms + plan.interval_ms - 1),
        "quote_volume": quote,
        "trades": trades,
        "taker_buy_base_volume": taker,
        "taker_buy_quote_volume": taker_quote,
    }
    return pd.DataFrame({c: values[c] for c in COLUMNS})


class ZipShelf:
    """`get(series, day)` → the zip bytes from `build`, each built once while it stays cached.

    Formatting a 1m day as CSV takes ~30 ms: building the next days while the client digests
    this one keeps a day-by-day backfill from waiting on the server.
    """

    def __init__(self, build: Callable[[Series, date], bytes]) -> None:
        self._build = build
        # Each future is cached with its estimated zip size: the LRU evicts by that size.
        self._futures: LRUCache[Key, tuple[Future[bytes], int]] = LRUCache(
            _ZIP_CACHE_BYTES, getsizeof=lambda entry: entry[1]
        )
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._last: dict[Series, date] = {}

    def get(self, series: Series, day: date, ahead: list[date]) -> bytes:
        """The day's zip (waited for); `ahead` is queued when the series is read in day order."""
        wanted = self._future(series, day)
        previous = self._last.get(series)
        self._last[series] = day
        if previous is not None and (day - previous).days == 1:
            for later in ahead:
                self._future(series, later)
        return wanted.result()

    def _future(self, series: Series, day: date) -> Future[bytes]:
        with self._lock:  # one submit per key, however many requests race for it
            entry = self._futures.get((series, day))
            if entry is None:
                entry = (self._submit(series, day), series.interval.per_day * _BYTES_PER_CANDLE)
                with suppress(ValueError):  # larger than the whole cache: not kept
                    self._futures[series, day] = entry
            return entry[0]

    def _submit(self, series: Series, day: date) -> Future[bytes]:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="qlir-sim-zips")
        return self._pool.submit(self._build, series, day)


def next_days(day: date, count: int) -> list[date]:
    """The `count` days after `day`."""
    return [day + timedelta(days=i) for i in range(1, count + 1)]
