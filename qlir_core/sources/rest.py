"""A client for Binance's market-data REST API (`/api/v3/klines`, `/api/v3/exchangeInfo`).

Every request goes through the shared request-weight budget (qlir_core.pacing): it waits its turn,
its answer's used-weight header updates the budget, a 429 pauses and a 418 stops every qlir
process that talks to the same host. Every failure is translated here, at the boundary, into
qlir's error hierarchy; callers never see an httpx exception.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pandas as pd

from qlir_core import binance, candles
from qlir_core.binance import EXCHANGE_INFO_WEIGHT, KLINES_WEIGHT, WEIGHT_HEADER, Endpoint
from qlir_core.errors import (
    ConfigError,
    InvalidSymbol,
    IpBanned,
    MalformedPage,
    NetworkError,
    QlirError,
    RateLimited,
    RequestRejected,
    ServerError,
)
from qlir_core.pacing import Budget, WeightLimit
from qlir_core.slices import SliceKey

__all__ = [
    "DEFAULT_URL",
    "EXCHANGE_INFO_WEIGHT",
    "KLINES_WEIGHT",
    "WEIGHT_HEADER",
    "ExchangeInfo",
    "KlinesPage",
    "Reply",
    "RestClient",
    "parse_exchange_info",
    "parse_klines",
    "raise_for_status",
]

DEFAULT_URL = binance.REST_URL
TIMEOUT_S = 10.0  # Binance itself gives up on a request after 10 s (-1007 TIMEOUT)
RELEARN_AFTER_S = 60.0
RATE_LIMITED_S_DEFAULT = 60.0  # a 429 without Retry-After: wait out a one-minute window
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange, as the manifest records it."""

    url: str
    status: int
    body: bytes
    used_weight: int | None
    requested_at: pd.Timestamp
    completed_at: pd.Timestamp
    duration_ms: float
    retry_after: float | None = None  # seconds, from a 418 or 429's Retry-After


@dataclass(frozen=True)
class KlinesPage:
    reply: Reply
    candles: pd.DataFrame


@dataclass(frozen=True)
class ExchangeInfo:
    symbols: frozenset[str]  # symbols trading on spot
    weight_limit: int | None  # REQUEST_WEIGHT per window, as the exchange announces it
    weight_window_s: float | None = None  # that window, in seconds (60 on Binance)

    @property
    def request_weight(self) -> WeightLimit | None:
        if self.weight_limit is None or self.weight_window_s is None:
            return None
        return WeightLimit(self.weight_limit, self.weight_window_s)


class RestClient:
    """Binance REST over one pooled httpx client; `transport` is injectable for tests.

    The request-weight budget is shared with every process on this machine (`budget`, by
    default the host's file in `pacing.default_folder()`); its limit is `weight_limit` when
    given, else what exchangeInfo announces (read by `calibrate` before the first klines
    request, and again after a 429), else Binance's 6000 per minute.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        budget: Budget | None = None,
        weight_limit: WeightLimit | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget or Budget.for_url(self.base_url, limit=weight_limit)
        self._http = httpx.Client(
            timeout=TIMEOUT_S if timeout is None else timeout, transport=transport
        )
        self._symbol: str | None = None  # the last symbol asked for: exchangeInfo's filter
        self._learn = False  # a 429 came: read the limit (again) before going on
        self._learned_at = -math.inf  # monotonic time of the last try
        self._calibrated = False  # `calibrate` has read the limit, or tried and failed
        # Threads sharing the client wait for the first one's reading of the limit, rather
        # than sending pages paced to a guess meanwhile.
        self._calibrating = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def klines_url(self, window: SliceKey, endpoint: Endpoint = Endpoint.KLINES) -> str:
        """e.g. `…/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1674259200000`
        `&endTime=1674319199999&limit=1000` (see binance.klines_url)"""
        return binance.klines_url(self.base_url, window, endpoint)

    def klines(self, window: SliceKey, endpoint: Endpoint = Endpoint.KLINES) -> KlinesPage:
        """The candles Binance returns for `window`, forming ones included (see final_only)."""
        self.calibrate(window.series.symbol)
        reply = self.send(self.klines_url(window, endpoint), KLINES_WEIGHT)
        return KlinesPage(reply, parse_klines(reply))

    def exchange_info(self, symbol: str | None = None) -> ExchangeInfo:
        """The spot symbols (all, or `symbol` only) and the request-weight limit; the limit is
        passed to the shared budget."""
        query = "" if symbol is None else "?" + urlencode({binance.SYMBOL_PARAM: symbol})
        url = f"{self.base_url}{binance.EXCHANGE_INFO_PATH}{query}"
        reply = self.send(url, EXCHANGE_INFO_WEIGHT)
        raise_for_status(reply)
        info = parse_exchange_info(reply)
        if info.request_weight is not None:
            self.budget.learn(info.request_weight)
        return info

    def calibrate(
        self, symbol: str | None = None, *, log: logging.Logger | None = None
    ) -> WeightLimit:
        """Read the request-weight limit from exchangeInfo (filtered to `symbol`, to keep the
        answer small) unless it is configured or known: called before the first klines
        request, it costs one request of weight 20 per client at most (none once any process
        has read it that day). Returns the limit the budget paces to. It never fails: if
        exchangeInfo cannot be read, the default stays (logged to `log`) and the next 429 asks
        again; a 429 asks again before the next request; during a ban the next request reports
        the ban, and the limit is read once it has ended."""
        self._symbol = symbol or self._symbol
        with self._calibrating:
            if not self._calibrated and not self.budget.knows_limit():
                try:
                    self._learn_limit(log)
                    self._calibrated = True
                except IpBanned:
                    pass  # what the caller's request raises too, and records
        return self.budget.status().limit

    def send(self, url: str, weight: int) -> Reply:
        """GET `url` within the budget; a Reply whatever its status (see raise_for_status).
        NetworkError when no answer comes; IpBanned, without a request, during a ban."""
        if self._learn:
            self._learn = False
            self._learn_limit()
        ticket = self.budget.acquire(weight)
        requested_at = pd.Timestamp.now(tz="UTC")
        started = time.perf_counter()
        try:
            response = self._http.get(url)
        except httpx.TimeoutException as e:
            raise NetworkError(f"GET {url}: timed out ({type(e).__name__})") from e
        except httpx.TransportError as e:
            raise NetworkError(f"GET {url}: {type(e).__name__}: {e}") from e
        reply = Reply(
            url=url,
            status=response.status_code,
            body=response.content,
            used_weight=_int_or_none(response.headers.get(WEIGHT_HEADER)),
            requested_at=requested_at,
            completed_at=pd.Timestamp.now(tz="UTC"),
            duration_ms=(time.perf_counter() - started) * 1000,
            retry_after=_seconds_or_none(response.headers.get(binance.RETRY_AFTER_HEADER)),
        )
        self.budget.observe(ticket, reply.used_weight)
        if reply.status == 429:
            wait = reply.retry_after
            self.budget.pause(self.budget.window_left() if wait is None else wait)
            # Under a guessed or learned limit (it may be stale), read it again; once a minute
            # at most, since a 429 may also come from another client on this IP.
            recent = time.monotonic() - self._learned_at < RELEARN_AFTER_S
            self._learn = self.budget.configured is None and not recent
        elif reply.status == 418:
            wait = reply.retry_after
            self.budget.ban(binance.BAN_S_DEFAULT if wait is None else wait)
        return reply

    def get(self, url: str, weight: int = KLINES_WEIGHT) -> Reply:
        """GET `url`; a 2xx becomes a Reply, anything else a qlir error."""
        reply = self.send(url, weight)
        raise_for_status(reply)
        return reply

    def _learn_limit(self, log: logging.Logger | None = None) -> None:
        """Read the real limit from exchangeInfo; a failure keeps the guess. IpBanned during a
        ban, ConfigError for an unsafe budget folder: those stop every request alike."""
        self._learned_at = time.monotonic()
        try:
            self.exchange_info(self._symbol)
        except RateLimited:
            self._learn = True  # paused for its Retry-After: read it before the next request
        except (IpBanned, ConfigError):
            raise
        except QlirError as e:
            (log or _LOG).warning(
                "the request-weight limit could not be read (%s); pacing to %s until a 429 "
                "asks again",
                e,
                _describe(self.budget.status().limit),
            )


def parse_klines(reply: Reply) -> pd.DataFrame:
    """The candles of a klines reply; a qlir error for a non-2xx status or a malformed body."""
    raise_for_status(reply)
    return candles.from_rest_json(reply.body, source=reply.url)


def parse_exchange_info(reply: Reply) -> ExchangeInfo:
    try:
        body = json.loads(reply.body)
        symbols = frozenset(
            s["symbol"]
            for s in body["symbols"]
            if s.get("status") == "TRADING" and s.get("isSpotTradingAllowed", True)
        )
        limits = [
            (
                int(r["limit"]),
                float(r.get("intervalNum", 1)) * binance.RATE_LIMIT_INTERVAL_S[r["interval"]],
            )
            for r in body.get("rateLimits", [])
            if r.get("rateLimitType") == "REQUEST_WEIGHT"
            and r.get("interval") in binance.RATE_LIMIT_INTERVAL_S
        ]
    except (ValueError, KeyError, TypeError) as e:
        raise MalformedPage(f"{reply.url}: not an exchangeInfo body ({e})") from e
    if not limits:
        return ExchangeInfo(symbols, None)
    weight, window_s = min(limits, key=lambda lw: lw[0] / lw[1])  # the tightest rate
    return ExchangeInfo(symbols, weight, window_s)


def raise_for_status(reply: Reply, headers: httpx.Headers | None = None) -> None:
    """Translate a non-2xx reply into the error hierarchy (see qlir_core.errors)."""
    status = reply.status
    if status < 400:
        return
    code, msg = _error_body(reply.body)
    where = f"GET {reply.url}: HTTP {status}" + (f" (code {code}: {msg})" if code else "")
    retry_after = reply.retry_after
    if retry_after is None and headers is not None:
        retry_after = _seconds_or_none(headers.get(binance.RETRY_AFTER_HEADER))
    if status == 429:
        wait = RATE_LIMITED_S_DEFAULT if retry_after is None else retry_after
        raise RateLimited(f"{where}; retry after {wait:g} s", wait)
    if status == 418:
        wait = binance.BAN_S_DEFAULT if retry_after is None else retry_after
        raise IpBanned(f"{where}; the IP is banned for {wait:g} s", wait)
    if status >= 500:
        raise ServerError(where, status)
    if code == binance.BAD_SYMBOL_CODE:
        raise InvalidSymbol(f"{where}: Binance does not list this symbol", status, code)
    raise RequestRejected(where, status, code)


def _error_body(body: bytes) -> tuple[int | None, str]:
    try:
        parsed = json.loads(body)
        return int(parsed["code"]), str(parsed.get("msg", ""))
    except (ValueError, KeyError, TypeError):
        return None, body[:200].decode(errors="replace")


def _describe(limit: WeightLimit) -> str:
    """`6000 per 60 s`."""
    return f"{limit.weight} per {limit.window_s:g} s"


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _seconds_or_none(text: str | None) -> float | None:
    """Retry-After in seconds (Binance sends seconds; an HTTP date is not expected)."""
    try:
        return max(0.0, float(text)) if text else None
    except ValueError:
        return None
