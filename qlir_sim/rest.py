"""The REST endpoints: `/api/v3/klines`, `/api/v3/exchangeInfo`, `/api/v3/time`, `/api/v3/ping`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qlir_core.candles import empty
from qlir_core.intervals import Interval
from qlir_core.series import Series
from qlir_sim import binance
from qlir_sim.exchange import Exchange
from qlir_sim.exchange_info import exchange_info
from qlir_sim.faults import Roll
from qlir_sim.market import Market, symbols
from qlir_sim.query import DEFAULT_LIMIT, MAX_LIMIT, select_klines
from qlir_sim.tamper import klines_body, tamper_candles

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_MICROSECONDS_FROM = 10**15  # startTime/endTime may be sent in µs since 2024-12 (CHANGELOG)


@dataclass(frozen=True)
class KlinesQuery:
    """A valid klines request: the series (None if the market lacks it) and the selection."""

    series: Series | None
    start_ms: int | None
    end_ms: int | None
    limit: int


async def klines(request: Request, ex: Exchange, roll: Roll) -> Response:
    """Candles of one series, validated and selected as Binance does, then damaged if rolled."""
    query = parse_klines(request.query_params, ex.market)
    if isinstance(query, Response):
        return query
    # Selecting and formatting up to 1000 candles takes milliseconds: keep it off the event loop.
    body, applied = await run_in_threadpool(_klines_body, ex.market, query, ex.now_ms(), roll)
    ex.stats.fault(*applied)
    return Response(body, media_type="application/json")


def parse_klines(params: QueryParams, market: Market) -> KlinesQuery | Response:
    """The request's parameters checked in Binance's terms, or the error response."""
    symbol, interval = params.get("symbol"), params.get("interval")
    if not symbol:
        return binance.mandatory("symbol")
    if not interval:
        return binance.mandatory("interval")
    try:
        parsed = Interval.parse(interval)
    except ValueError:
        return binance.bad_interval()
    if symbol not in symbols(market):
        return binance.bad_symbol()
    numbers: dict[str, int | None] = {}
    for name in ("startTime", "endTime", "limit"):
        text = params.get(name)
        if text is not None and not _DIGITS.match(text):
            return binance.illegal_chars(name)
        numbers[name] = None if text is None else int(text)
    limit = numbers["limit"]
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        return binance.invalid("limit")
    start, end = _as_ms(numbers["startTime"]), _as_ms(numbers["endTime"])
    if start is not None and end is not None and start > end:
        return binance.error(binance.START_AFTER_END, "Start time is greater than end time.")
    series = Series(symbol, parsed) if parsed.tiles_day else None
    if series not in market.series():
        series = None  # a listed symbol at an interval this market does not carry: no candles
    return KlinesQuery(series, start, end, limit)


def _klines_body(
    market: Market, query: KlinesQuery, now: int, roll: Roll
) -> tuple[bytes, list[str]]:
    """The selected candles as a JSON body, damaged as rolled, and the faults applied."""
    candles = empty()
    if query.series is not None:
        series = query.series
        candles = select_klines(
            market.days(series, now),
            lambda day: market.candles(series, day, now),
            start_ms=query.start_ms,
            end_ms=query.end_ms,
            limit=query.limit,
        )
    candles, damaged = tamper_candles(candles, roll)
    body, broken = klines_body(candles, roll)
    return body, damaged + broken


async def exchange_information(request: Request, ex: Exchange, roll: Roll) -> Response:
    """The symbol list; `symbol` or `symbols` (a JSON array) narrows it, -1121 if one is unknown."""
    listed = symbols(ex.market)
    wanted, error = _wanted_symbols(request.query_params, listed)
    if error is not None:
        return error
    return JSONResponse(exchange_info(wanted, ex.limits, ex.now_ms()))


async def server_time(request: Request, ex: Exchange, roll: Roll) -> Response:
    return JSONResponse({"serverTime": ex.now_ms()})


async def ping(request: Request, ex: Exchange, roll: Roll) -> Response:
    return JSONResponse({})


def _wanted_symbols(params: QueryParams, listed: list[str]) -> tuple[list[str], Response | None]:
    one, many = params.get("symbol"), params.get("symbols")
    if one is not None and many is not None:
        return [], binance.error(binance.BAD_COMBO, "Combination of optional parameters invalid.")
    if one is not None:
        return [one], None if one in listed else binance.bad_symbol()
    if many is None:
        return listed, None
    try:
        names = json.loads(many)
    except json.JSONDecodeError:
        return [], binance.invalid("symbols")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [], binance.invalid("symbols")
    if any(n not in listed for n in names):
        return [], binance.bad_symbol()
    return names, None


def _as_ms(value: int | None) -> int | None:
    """A timestamp parameter in milliseconds (µs values are recognised by their size)."""
    if value is None:
        return None
    return value // 1000 if value >= _MICROSECONDS_FROM else value
