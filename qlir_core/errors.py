"""One error hierarchy for qlir, split by what the caller should do about it.

QlirError
├── TemporaryError            retry later: the same request may succeed
│   ├── NetworkError          connection refused or reset, timeout
│   ├── ServerError           HTTP 5xx
│   ├── RateLimited           HTTP 429 (carries Retry-After)
│   └── NotPublished          the archive has no file for the day yet (HTTP 404)
└── OperationalError          retrying cannot help: fix the input or the configuration
    ├── ConfigError           a bad setting (names the variable and the value)
    ├── InvalidSeries         a malformed series key, an unknown or unsupported interval
    ├── InvalidSymbol         Binance does not list the symbol (error -1121)
    ├── RequestRejected       any other 4xx, with Binance's code and message
    ├── IpBanned              HTTP 418: stop fetching until the ban ends
    ├── ChecksumMismatch      an archive zip whose sha256 differs from its CHECKSUM
    ├── MalformedData         a payload that is not a clean page of klines; its `kind` (a
    │                         Malformation) names what is wrong and is the manifest's reason.
    │                         Whether asking again may help is the caller's policy (ingest.py)
    └── OutOfRange            a day outside the configured partitions
"""

from __future__ import annotations

from enum import Enum


class QlirError(Exception):
    """Base of every error qlir raises on purpose."""


class TemporaryError(QlirError):
    """The same request may succeed later."""


class NetworkError(TemporaryError):
    """The server could not be reached, or did not answer in time."""


class ServerError(TemporaryError):
    """The server failed (HTTP 5xx)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(TemporaryError):
    """HTTP 429: the request-weight budget is used up; wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotPublished(TemporaryError):
    """The archive does not publish this day (yet)."""


class OperationalError(QlirError):
    """Retrying cannot help."""


class ConfigError(OperationalError):
    """A configuration value is invalid."""


class InvalidSeries(OperationalError, ValueError):
    """A series key or interval that qlir cannot ingest."""


class RequestRejected(OperationalError):
    """Binance rejected the request (HTTP 4xx with its error body)."""

    def __init__(self, message: str, status: int, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InvalidSymbol(RequestRejected):
    """Binance does not list the symbol (error -1121)."""


class IpBanned(OperationalError):
    """HTTP 418: the IP is banned; nothing may be fetched before `retry_after` seconds pass."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChecksumMismatch(OperationalError):
    """An archive file whose sha256 is not the one its CHECKSUM names."""


class Malformation(Enum):
    """What is wrong with a payload. The value is the manifest's reason for the attempt."""

    TRUNCATED_BODY = "truncated_body"  # a REST body cut short: an array that never closes
    NOT_KLINES = "not_klines"  # not JSON, or JSON that is not an array of klines
    FIELD_COUNT = "bad_field_count"  # a kline without exactly 12 fields
    NON_NUMERIC = "non_numeric_field"  # a number field that is not a number
    OUT_OF_ORDER = "out_of_order"  # open times not ascending
    DUPLICATE = "duplicate_candles"  # one open time twice
    OUTSIDE_WINDOW = "outside_window"  # a candle opening outside the window asked for
    BAD_ZIP = "bad_zip"  # an archive zip that does not open, or does not hold one CSV
    TRUNCATED_CSV = "truncated_csv"  # an archive CSV with a line cut short
    BAD_CSV = "bad_csv"  # an archive CSV that does not parse as klines
    OTHER = "malformed"  # anything else (e.g. an exchangeInfo body)


class MalformedData(OperationalError):
    """A payload that is not a clean page of klines; `kind` says what is wrong with it."""

    def __init__(self, message: str, kind: Malformation = Malformation.OTHER) -> None:
        super().__init__(message)
        self.kind = kind


class OutOfRange(OperationalError, ValueError):
    """A day before the configured start date, or in the future."""
