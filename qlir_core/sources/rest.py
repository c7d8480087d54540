"""A client for Binance's market-data REST API (`/api/v3/klines`, `/api/v3/exchangeInfo`).

Every failure is translated here, at the boundary, into qlir's error hierarchy; callers never
see an httpx exception.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pandas as pd

from qlir_core import candles
from qlir_core.errors import (
    InvalidSymbol,
    IpBanned,
    MalformedData,
    NetworkError,
    RateLimited,
    RequestRejected,
    ServerError,
)
from qlir_core.slices import SliceKey

DEFAULT_URL = "https://data-api.binance.vision"
TIMEOUT_S = 10.0  # Binance itself gives up on a request after 10 s (-1007 TIMEOUT)
WEIGHT_HEADER = "x-mbx-used-weight-1m"
_BAD_SYMBOL = -1121


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


@dataclass(frozen=True)
class KlinesPage:
    reply: Reply
    candles: pd.DataFrame


@dataclass(frozen=True)
class ExchangeInfo:
    symbols: frozenset[str]  # symbols trading on spot
    weight_limit: int | None  # REQUEST_WEIGHT per minute, as the exchange announces it


class RestClient:
    """Binance REST over one pooled httpx client; `transport` is injectable for tests."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def klines_url(self, window: SliceKey) -> str:
        """e.g. `…/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1674259200000`
        `&endTime=1674319199999&limit=1000`"""
        params = {
            "symbol": window.series.symbol,
            "interval": window.series.interval.value,
            "startTime": window.start_ms,
            "endTime": window.end_ms,
            "limit": window.limit,
        }
        return f"{self.base_url}/api/v3/klines?{urlencode(params)}"

    def klines(self, window: SliceKey) -> KlinesPage:
        """The candles Binance returns for `window`, forming ones included (see final_only)."""
        reply = self.get(self.klines_url(window))
        page = candles.from_rest_json(reply.body, source=reply.url)
        return KlinesPage(reply, page)

    def exchange_info(self) -> ExchangeInfo:
        reply = self.get(f"{self.base_url}/api/v3/exchangeInfo")
        try:
            body = json.loads(reply.body)
            symbols = frozenset(
                s["symbol"]
                for s in body["symbols"]
                if s.get("status") == "TRADING" and s.get("isSpotTradingAllowed", True)
            )
        except (ValueError, KeyError, TypeError) as e:
            raise MalformedData(f"{reply.url}: not an exchangeInfo body ({e})") from e
        limits = [
            int(r["limit"])
            for r in body.get("rateLimits", [])
            if r.get("rateLimitType") == "REQUEST_WEIGHT" and r.get("interval") == "MINUTE"
        ]
        return ExchangeInfo(symbols, limits[0] if limits else None)

    def get(self, url: str) -> Reply:
        """GET `url`; a 2xx becomes a Reply, anything else a qlir error."""
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
        )
        raise_for_status(reply, response.headers)
        return reply


def raise_for_status(reply: Reply, headers: httpx.Headers) -> None:
    """Translate a non-2xx reply into the error hierarchy (see qlir_core.errors)."""
    status = reply.status
    if status < 400:
        return
    code, msg = _error_body(reply.body)
    where = f"GET {reply.url}: HTTP {status}" + (f" (code {code}: {msg})" if code else "")
    retry_after = float(headers.get("retry-after") or 60)
    if status == 429:
        raise RateLimited(f"{where}; retry after {retry_after:g} s", retry_after)
    if status == 418:
        raise IpBanned(f"{where}; the IP is banned for {retry_after:g} s", retry_after)
    if status >= 500:
        raise ServerError(where, status)
    if code == _BAD_SYMBOL:
        raise InvalidSymbol(f"{where}: Binance does not list this symbol", status, code)
    raise RequestRejected(where, status, code)


def _error_body(body: bytes) -> tuple[int | None, str]:
    try:
        parsed = json.loads(body)
        return int(parsed["code"]), str(parsed.get("msg", ""))
    except (ValueError, KeyError, TypeError):
        return None, body[:200].decode(errors="replace")


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None
