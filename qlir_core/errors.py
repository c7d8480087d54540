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
    ├── MalformedData         a body that does not parse as klines
    └── OutOfRange            a day outside the configured partitions
"""

from __future__ import annotations


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


class MalformedData(OperationalError):
    """A payload that does not parse as klines."""


class OutOfRange(OperationalError, ValueError):
    """A day before the configured start date, or in the future."""
