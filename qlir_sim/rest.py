"""The REST endpoints: `/api/v3/klines` and `/api/v3/uiKlines` (validated and selected as
Binance does),
`/api/v3/exchangeInfo`, `/api/v3/time`, `/api/v3/ping`."""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qlir_core import binance
from qlir_core.binance import DEFAULT_LIMIT, MAX_LIMIT, Interval, day_of_ms, day_start_ms
from qlir_core.candles import empty, open_ms
from qlir_core.series import Series
from qlir_sim import replies
from qlir_sim.exchange import Exchange
from qlir_sim.faults import Roll, klines_body, tamper_candles
from qlir_sim.limits import Limits
from qlir_sim.market import Market, split_symbol, symbols

_DIGITS = re.compile(r"^[0-9]{1,20}$")
_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]


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
    symbol, interval = params.get(binance.SYMBOL_PARAM), params.get(binance.INTERVAL_PARAM)
    if not symbol:
        return replies.mandatory(binance.SYMBOL_PARAM)
    if not interval:
        return replies.mandatory(binance.INTERVAL_PARAM)
    try:
        parsed = Interval.parse(interval)
    except ValueError:
        return replies.bad_interval()
    if symbol not in symbols(market):
        return replies.bad_symbol()
    numbers: dict[str, int | None] = {}
    for name in (binance.START_PARAM, binance.END_PARAM, binance.LIMIT_PARAM):
        text = params.get(name)
        if text is not None and not _DIGITS.match(text):
            return replies.illegal_chars(name)
        numbers[name] = None if text is None else int(text)
    limit = numbers[binance.LIMIT_PARAM]
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        return replies.invalid(binance.LIMIT_PARAM)
    start = _as_ms(numbers[binance.START_PARAM])
    end = _as_ms(numbers[binance.END_PARAM])
    if start is not None and end is not None and start > end:
        return replies.error(replies.START_AFTER_END, "Start time is greater than end time.")
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
    entries = {s: _symbol(s) for s in symbols(ex.market)}
    if ex.listing is not None:
        entries = {str(e["symbol"]): e for e in ex.listing}
    wanted, error = _wanted_symbols(request.query_params, list(entries))
    if error is not None:
        return error
    body = exchange_info([], ex.limits, ex.now_ms())
    body["symbols"] = [entries[s] for s in wanted]
    return JSONResponse(body)


async def server_time(request: Request, ex: Exchange, roll: Roll) -> Response:
    return JSONResponse({"serverTime": ex.now_ms()})


async def ping(request: Request, ex: Exchange, roll: Roll) -> Response:
    return JSONResponse({})


def _wanted_symbols(params: QueryParams, listed: list[str]) -> tuple[list[str], Response | None]:
    one, many = params.get(binance.SYMBOL_PARAM), params.get(binance.SYMBOLS_PARAM)
    if one is not None and many is not None:
        return [], replies.error(replies.BAD_COMBO, "Combination of optional parameters invalid.")
    if one is not None:
        return [one], None if one in listed else replies.bad_symbol()
    if many is None:
        return listed, None
    try:
        names = json.loads(many)
    except json.JSONDecodeError:
        return [], replies.invalid(binance.SYMBOLS_PARAM)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [], replies.invalid(binance.SYMBOLS_PARAM)
    if any(n not in listed for n in names):
        return [], replies.bad_symbol()
    return names, None


def _as_ms(value: int | None) -> int | None:
    """A timestamp parameter in milliseconds: startTime and endTime may be sent in µs since
    2024-12 (CHANGELOG), recognised by their size."""
    if value is None:
        return None
    return value // 1000 if value >= binance.MICROS_FROM else value


# --- which candles a klines request gets -------------------------------------------------------


def select_klines(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    *,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    """Candles by open time, chronological, as `GET /api/v3/klines` picks them.

    With `start_ms`: the oldest from it, up to `limit`, never past `end_ms`. Without: the most
    recent up to `limit` opening at or before `end_ms` (or the latest ones).
    """
    if start_ms is not None:
        return _forward(days, load, start_ms, end_ms, limit)
    return _backward(days, load, end_ms, limit)


def _forward(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    start_ms: int,
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    count = 0
    for day in days[bisect_left(days, day_of_ms(start_ms)) :]:
        if end_ms is not None and day_start_ms(day) > end_ms:
            break
        frame = load(day)
        opens = open_ms(frame)
        keep = opens >= start_ms
        if end_ms is not None:
            keep &= opens <= end_ms
        if keep.any():
            frames.append(frame[keep])
            count += int(keep.sum())
        if count >= limit:
            break
    return _joined(frames).iloc[:limit].reset_index(drop=True)


def _backward(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    count = 0
    stop = len(days) if end_ms is None else bisect_right(days, day_of_ms(end_ms))
    for day in reversed(days[:stop]):
        frame = load(day)
        if end_ms is not None:
            frame = frame[open_ms(frame) <= end_ms]
        if not frame.empty:
            frames.insert(0, frame)
            count += len(frame)
        if count >= limit:
            break
    return _joined(frames).iloc[-limit:].reset_index(drop=True)


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame from the non-empty pieces (concat warns about empty ones)."""
    if not frames:
        return empty()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


# --- the exchangeInfo body --------------------------------------------------------------------


def exchange_info(symbols: list[str], limits: Limits, now_ms: int) -> dict[str, Any]:
    """The body for `symbols`, with the configured REQUEST_WEIGHT limit."""
    unit, count = limits.interval
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": unit,
                "intervalNum": count,
                "limit": limits.weight_limit,
            },
            # Listed as Binance lists it; the local exchange does not enforce it.
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 61000,
            },
        ],
        "exchangeFilters": [],
        "symbols": [_symbol(s) for s in symbols],
    }


def _symbol(symbol: str) -> dict[str, Any]:
    base, quote = split_symbol(symbol)
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": _ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [],
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }
