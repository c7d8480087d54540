"""One error hierarchy for qlir, split by what the caller should do about it.

The tree is the retry policy: qlir asks again after a TemporaryError and never after anything
else (qlir_core.ingest reads it with tenacity's `retry_if_exception_type(TemporaryError)`).

QlirError
├── TemporaryError            retry: the same request may succeed
│   ├── NetworkError          connection refused or reset, timeout
│   ├── ServerError           HTTP 5xx
│   ├── RateLimited           HTTP 429 (carries Retry-After; counted apart, see ingest.py)
│   ├── MalformedPage         a REST body that is not a clean page of klines (a MalformedData):
│   │                         each body is made for its request, so a bad one is damage on the way
│   └── UnconfirmedPage       a closed REST window kept answering short, no two answers alike
├── OperationalError          retrying cannot help: fix the input or the configuration
│   ├── ConfigError           a bad setting (names the variable and the value)
│   ├── InvalidSeries         a malformed series key, an unknown or unsupported interval
│   ├── RequestRejected       any other 4xx, with Binance's code and message
│   │   └── InvalidSymbol     Binance does not list the symbol (error -1121)
│   ├── IpBanned              HTTP 418: stop fetching until the ban ends
│   ├── NotPublished          the archive has no file for the day (HTTP 404): asking again
│   │                         within a run cannot publish it; a later run may find it
│   ├── ChecksumMismatch      an archive zip whose sha256 differs from its CHECKSUM
│   ├── MalformedFile         an archive file that is not clean klines (a MalformedData): the
│   │                         file is what is published, so reading it again gives the same
│   └── OutOfRange            a day outside the configured partitions
└── MalformedData             the common base of MalformedPage and MalformedFile (never raised
                              itself); its `kind` (a Malformation) names what is wrong
"""

from __future__ import annotations

from enum import Enum, auto


class QlirError(Exception):
    """Base of every error qlir raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled from its state, not rebuilt through __init__ (whose arguments differ by
        # class): a refused partition's error comes back from a worker process whole.
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(cls: type[QlirError], args: tuple[object, ...], state: dict[str, object]) -> QlirError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class TemporaryError(QlirError):
    """The same request may succeed later: qlir asks again."""


class OperationalError(QlirError):
    """Retrying cannot help: qlir does not ask again."""


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


class UnconfirmedPage(TemporaryError):
    """A closed REST window answered short every time, and no two answers were the same: candles
    are being lost on the way, so neither answer can be stored as the window's truth."""


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


class NotPublished(OperationalError):
    """The archive does not publish this day (yet)."""


class ChecksumMismatch(OperationalError):
    """An archive file whose sha256 is not the one its CHECKSUM names."""


class OutOfRange(OperationalError, ValueError):
    """A day before the configured start date, or in the future."""


class Malformation(Enum):
    """What is wrong with a payload (qlir_core.ingest maps each to the manifest's reason)."""

    TRUNCATED_BODY = auto()  # a REST body cut short: an array that never closes
    NOT_KLINES = auto()  # not JSON, or JSON that is not an array of klines
    FIELD_COUNT = auto()  # a kline without exactly 12 fields
    NON_NUMERIC = auto()  # a number field that is not a number
    OUT_OF_ORDER = auto()  # open times not ascending
    DUPLICATE = auto()  # one open time twice
    OUTSIDE_WINDOW = auto()  # a candle opening outside the window asked for
    BAD_ZIP = auto()  # an archive zip that does not open, or does not hold one CSV
    TRUNCATED_CSV = auto()  # an archive CSV with a line cut short
    BAD_CSV = auto()  # an archive CSV that does not parse as klines
    OTHER = auto()  # anything else (e.g. an exchangeInfo body)


class MalformedData(QlirError):
    """A payload that is not clean klines; `kind` says what is wrong with it. Raised as one of
    its two sides, which say whether asking again can help."""

    def __init__(self, message: str, kind: Malformation = Malformation.OTHER) -> None:
        super().__init__(message)
        self.kind = kind


class MalformedPage(MalformedData, TemporaryError):
    """A REST body that is not a clean page: asked for again (each body is made per request)."""


class MalformedFile(MalformedData, OperationalError):
    """An archive file that is not clean klines: not asked for again (it is what is published)."""
