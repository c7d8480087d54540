"""Binance's facts in one place: REST paths, parameters and weights, the archive's layout, the
kline intervals and the time units, with pure URL builders and their inverses.

Sources: Binance's spot `rest-api.md` (klines, exchangeInfo, LIMITS) and the layout of
data.binance.vision. Nothing here performs I/O.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import Enum
from typing import Protocol
from urllib.parse import parse_qs, urlencode, urlsplit

# --- time ---------------------------------------------------------------------------------------

SECOND_MS = 1_000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS

# The archive writes microseconds from 2025-01-01 on. Epoch values at or above this bound are
# microseconds (10**15 µs is 2001-09-09; 10**15 ms is the year 33658), so no date is needed.
MICROS_FROM = 10**15
MICROS_SINCE = date(2025, 1, 1)


EPOCH_DAY = date(1970, 1, 1)


def day_start_ms(day: date) -> int:
    """Epoch milliseconds of 00:00 UTC on `day`: date(2023, 1, 21) → 1674259200000."""
    return (day - EPOCH_DAY).days * DAY_MS


def day_of_ms(ms: int) -> date:
    """The UTC day holding epoch millisecond `ms`: 1674259259999 → date(2023, 1, 21)."""
    return EPOCH_DAY + timedelta(days=ms // DAY_MS)


# --- intervals ----------------------------------------------------------------------------------


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
        """The interval spelled `text` ("1m" → Interval.M1), or a ValueError listing the valid
        spellings."""
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
        length = INTERVAL_MS.get(self)
        if length is None:
            raise ValueError(f"{self.label} is a calendar month and has no fixed length")
        return length

    @property
    def tiles_day(self) -> bool:
        """True for the intervals that divide a UTC day (1s … 1d): these are ingested per day."""
        length = INTERVAL_MS.get(self)
        return length is not None and DAY_MS % length == 0

    @property
    def per_day(self) -> int:
        """Candles in one full UTC day (only for intervals that tile a day)."""
        if not self.tiles_day:
            raise ValueError(f"interval {self.label} does not divide a day")
        return DAY_MS // self.ms

    @property
    def archive_name(self) -> str:
        """Spelling in archive paths: monthly is `1mo` there, for case-insensitive disks."""
        return ARCHIVE_SPELLING.get(self, self.value)

    @property
    def label(self) -> str:
        """How messages and series keys show the interval: Binance's spelling, e.g. `1m`."""
        return self.value

    @classmethod
    def from_archive_name(cls, text: str) -> Interval:
        """The interval an archive path spells `text` ("1mo" → Interval.MO1); ValueError else."""
        for interval in cls:
            if interval.archive_name == text:
                return interval
        raise ValueError(f"unknown archive interval {text!r}")

    def __str__(self) -> str:
        return self.name


INTERVAL_MS: dict[Interval, int] = {
    Interval.S1: SECOND_MS,
    Interval.M1: MINUTE_MS,
    Interval.M3: 3 * MINUTE_MS,
    Interval.M5: 5 * MINUTE_MS,
    Interval.M15: 15 * MINUTE_MS,
    Interval.M30: 30 * MINUTE_MS,
    Interval.H1: HOUR_MS,
    Interval.H2: 2 * HOUR_MS,
    Interval.H4: 4 * HOUR_MS,
    Interval.H6: 6 * HOUR_MS,
    Interval.H8: 8 * HOUR_MS,
    Interval.H12: 12 * HOUR_MS,
    Interval.D1: DAY_MS,
    Interval.D3: 3 * DAY_MS,
    Interval.W1: WEEK_MS,
}
"""Fixed lengths; Interval.MO1 is absent (a calendar month)."""

ARCHIVE_SPELLING: dict[Interval, str] = {Interval.MO1: "1mo"}
"""Where the archive spells an interval differently from the REST API."""


# --- REST ---------------------------------------------------------------------------------------

REST_URL = "https://data-api.binance.vision"  # the market-data-only host
KLINES_PATH = "/api/v3/klines"
UIKLINES_PATH = "/api/v3/uiKlines"  # same parameters, shape and weight as klines
EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
TIME_PATH = "/api/v3/time"
PING_PATH = "/api/v3/ping"

# /api/v3/klines query parameters.
SYMBOL_PARAM = "symbol"
INTERVAL_PARAM = "interval"
START_PARAM = "startTime"
END_PARAM = "endTime"
LIMIT_PARAM = "limit"
SYMBOLS_PARAM = "symbols"  # exchangeInfo only: a JSON array of symbols

MAX_LIMIT = 1000  # the largest klines page
DEFAULT_LIMIT = 500  # the page size when `limit` is not sent

KLINES_WEIGHT = 2  # "Kline/Candlestick data" (1 before 2023-08-25)
EXCHANGE_INFO_WEIGHT = 20
TIME_WEIGHT = 1
PING_WEIGHT = 1

WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per window since 2023-08-25
WEIGHT_WINDOW_S = 60.0
WEIGHT_HEADER = "x-mbx-used-weight-1m"  # HTTP header names are case-insensitive
RETRY_AFTER_HEADER = "retry-after"  # seconds, on a 429 or a 418
BAN_S_DEFAULT = 120.0  # bans last "from 2 minutes to 3 days" (LIMITS); used without Retry-After

# Error codes of the JSON error body `{"code": -1121, "msg": "Invalid symbol."}`.
TOO_MANY_REQUESTS_CODE = -1003
BAD_SYMBOL_CODE = -1121

# exchangeInfo's rateLimits[].interval, in seconds.
RATE_LIMIT_INTERVAL_S: dict[str, int] = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


class Endpoint(Enum):
    """A candle endpoint; each is a dataset of its own, named by the value. `uiKlines` answers
    like `klines` ("modified kline data, optimized for presentation of candlestick charts")
    and is served by REST only: the archive publishes klines."""

    KLINES = "klines"
    UIKLINES = "uiklines"

    @property
    def path(self) -> str:
        return KLINES_PATH if self is Endpoint.KLINES else UIKLINES_PATH

    @property
    def archived(self) -> bool:
        """The daily archive publishes this endpoint's candles."""
        return self is Endpoint.KLINES

    @classmethod
    def of_path(cls, path: str) -> Endpoint | None:
        """The endpoint a URL path ends with (`…/api/v3/uiKlines`), or None."""
        return next((e for e in cls if path.endswith(e.path)), None)


class SeriesLike(Protocol):
    """A symbol at an interval (qlir_core.series.Series is one)."""

    @property
    def symbol(self) -> str: ...
    @property
    def interval(self) -> Interval: ...


class KlinesWindow(Protocol):
    """One klines request's window (qlir_core.slices.SliceKey is one)."""

    @property
    def series(self) -> SeriesLike: ...
    @property
    def start_ms(self) -> int: ...
    @property
    def end_ms(self) -> int: ...
    @property
    def limit(self) -> int: ...


def klines_url(base: str, window: KlinesWindow, endpoint: Endpoint = Endpoint.KLINES) -> str:
    """e.g. `https://data-api.binance.vision/api/v3/klines?symbol=BTCUSDT&interval=1m`
    `&startTime=1674259200000&endTime=1674319199999&limit=1000` (`…/api/v3/uiKlines?…` for
    Endpoint.UIKLINES)"""
    params = {
        SYMBOL_PARAM: window.series.symbol,
        INTERVAL_PARAM: window.series.interval.value,
        START_PARAM: window.start_ms,
        END_PARAM: window.end_ms,
        LIMIT_PARAM: window.limit,
    }
    return f"{base.rstrip('/')}{endpoint.path}?{urlencode(params)}"


def parse_klines_url(
    url: str, endpoint: Endpoint = Endpoint.KLINES
) -> tuple[str, Interval, int, int, int]:
    """The inverse of klines_url: `…/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=0`
    `&endTime=59999&limit=1` → ("BTCUSDT", Interval.M1, 0, 59999, 1); ValueError naming the
    fault for a URL klines_url does not write for `endpoint`."""
    parts = urlsplit(url)
    if not parts.path.endswith(endpoint.path):
        raise ValueError(f"{url!r}: the path is not {endpoint.path}")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    names = (SYMBOL_PARAM, INTERVAL_PARAM, START_PARAM, END_PARAM, LIMIT_PARAM)
    extra = sorted(set(query) - set(names))
    if extra:
        raise ValueError(f"{url!r}: unexpected parameters {extra}")
    values: dict[str, str] = {}
    for name in names:
        given = query.get(name, [])
        if len(given) != 1:
            raise ValueError(f"{url!r}: expected one {name!r} parameter, found {len(given)}")
        values[name] = given[0]
    if not values[SYMBOL_PARAM]:
        raise ValueError(f"{url!r}: the symbol is empty")
    numbers: dict[str, int] = {}
    for name in (START_PARAM, END_PARAM, LIMIT_PARAM):
        if not values[name].isdigit():
            raise ValueError(f"{url!r}: {name} {values[name]!r} is not a non-negative integer")
        numbers[name] = int(values[name])
    interval = Interval.parse(values[INTERVAL_PARAM])
    return (
        values[SYMBOL_PARAM],
        interval,
        numbers[START_PARAM],
        numbers[END_PARAM],
        numbers[LIMIT_PARAM],
    )


# --- archive ------------------------------------------------------------------------------------

ARCHIVE_URL = "https://data.binance.vision"
ARCHIVE_PREFIX = "data/spot/daily/klines"
CHECKSUM_SUFFIX = ".CHECKSUM"  # sidecar `<sha256 hex>  <zip name>`

_ARCHIVE_PATH = re.compile(
    rf"(?:^|/){re.escape(ARCHIVE_PREFIX)}/(?P<symbol>[A-Z0-9]+)/(?P<interval>[0-9a-zA-Z]+)/"
    r"(?P<name>[A-Z0-9]+)-(?P<name_interval>[0-9a-zA-Z]+)-(?P<day>\d{4}-\d{2}-\d{2})\.zip$"
)


def archive_zip_name(series: SeriesLike, day: date) -> str:
    """e.g. `BTCUSDT-1m-2023-01-21.zip`; the CSV inside is the same name ending `.csv`."""
    return f"{series.symbol}-{series.interval.archive_name}-{day.isoformat()}.zip"


def archive_day_path(series: SeriesLike, day: date) -> str:
    """e.g. `data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip` (relative to the host);
    monthly candles read `…/BTCUSDT/1mo/BTCUSDT-1mo-2023-01-21.zip`."""
    folder = f"{ARCHIVE_PREFIX}/{series.symbol}/{series.interval.archive_name}"
    return f"{folder}/{archive_zip_name(series, day)}"


def archive_url(base: str, series: SeriesLike, day: date) -> str:
    """e.g. `https://data.binance.vision/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip`;
    its checksum is this URL + CHECKSUM_SUFFIX."""
    return f"{base.rstrip('/')}/{archive_day_path(series, day)}"


def parse_archive_url(url: str) -> tuple[str, Interval, date]:
    """The inverse of archive_url (or of archive_day_path):
    `…/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip`
    → ("BTCUSDT", Interval.M1, date(2023, 1, 21)); ValueError naming the fault otherwise."""
    path = urlsplit(url).path if "://" in url else url
    match = _ARCHIVE_PATH.search(path)
    if match is None:
        raise ValueError(
            f"{url!r} is not a daily klines zip ({ARCHIVE_PREFIX}/SYMBOL/INTERVAL/"
            "SYMBOL-INTERVAL-YYYY-MM-DD.zip)"
        )
    if match["name"] != match["symbol"]:
        raise ValueError(f"{url!r}: the file names {match['name']}, its folder {match['symbol']}")
    if match["name_interval"] != match["interval"]:
        raise ValueError(
            f"{url!r}: the file names interval {match['name_interval']}, "
            f"its folder {match['interval']}"
        )
    interval = Interval.from_archive_name(match["interval"])
    try:
        day = date.fromisoformat(match["day"])
    except ValueError:
        raise ValueError(f"{url!r}: {match['day']!r} is not a date") from None
    return match["symbol"], interval, day
