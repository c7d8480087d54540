"""What happens before a handler runs: latency, bans, the weight limit, hangs and 5xx faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from qlir_sim import binance
from qlir_sim.exchange import Exchange
from qlir_sim.faults import Roll

Handler = Callable[[Request, Exchange, Roll], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def rest_endpoint(weight: int, handler: Handler) -> Endpoint:
    """A REST endpoint costing `weight`; every answer carries the used weight header."""

    async def endpoint(request: Request) -> Response:
        ex: Exchange = request.app.state.exchange
        ex.stats.rest_requests += 1
        roll = ex.faults.roll()
        await _delay(ex)
        response = _limit(ex, weight) or await _hang_or_fail(ex, roll)
        response = response or await handler(request, ex, roll)
        response.headers[binance.WEIGHT_HEADER] = str(ex.limiter.used(ex.clock()))
        ex.stats.statuses[response.status_code] += 1
        return response

    return endpoint


def archive_endpoint(handler: Handler) -> Endpoint:
    """An archive file endpoint: another host in reality, so it costs no weight."""

    async def endpoint(request: Request) -> Response:
        ex: Exchange = request.app.state.exchange
        ex.stats.archive_requests += 1
        roll = ex.faults.roll()
        await _delay(ex)
        response = await _hang_or_fail(ex, roll) or await handler(request, ex, roll)
        ex.stats.statuses[response.status_code] += 1
        return response

    return endpoint


async def _delay(ex: Exchange) -> None:
    if ex.faults.faults.latency_ms:
        ex.stats.fault("latency")
        await asyncio.sleep(ex.faults.faults.latency_ms / 1000)


def _limit(ex: Exchange, weight: int) -> Response | None:
    """418 or 429 (forced, a burst, or the real limit), else charge the weight and go on."""
    limits = ex.limits
    if ex.faults.faults.force_418:
        ex.stats.fault("forced_418")
        return binance.banned(limits.ban_seconds, ex.now_ms() + limits.ban_seconds * 1000)
    if ex.faults.take_burst():
        ex.stats.fault("burst_429")
        return binance.rate_limited(1, limits.weight_limit, limits.interval)
    verdict = ex.limiter.admit(weight, ex.clock())
    if verdict.status == 418:
        assert verdict.banned_until is not None
        return binance.banned(verdict.retry_after, int(verdict.banned_until * 1000))
    if verdict.status == 429:
        return binance.rate_limited(verdict.retry_after, limits.weight_limit, limits.interval)
    return None


async def _hang_or_fail(ex: Exchange, roll: Roll) -> Response | None:
    if roll.timeout:
        ex.stats.fault("timeout")
        await asyncio.sleep(ex.faults.faults.hang_seconds)  # the client has given up by now
    if not roll.error:
        return None
    ex.stats.fault("5xx")
    if roll.error_status in (502, 504):  # a proxy's page, not Binance's JSON
        return PlainTextResponse(
            f"{roll.error_status} Gateway error", status_code=roll.error_status
        )
    if roll.error_status == 503:
        return binance.error(
            binance.SERVER_BUSY, "Server is currently overloaded with other requests.", 503
        )
    return binance.error(
        binance.UNKNOWN, "An unknown error occurred while processing the request.", 500
    )
