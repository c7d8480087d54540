"""The ASGI app: Binance's routes and the `/sim/*` control endpoints over one Exchange, what
every request passes before its handler (latency, bans, the weight limit, hangs, 5xx faults),
and running it with uvicorn on loopback (in a thread for tests, until a signal for the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from qlir_core import binance
from qlir_sim import archive, replies, rest
from qlir_sim.exchange import Clock, Exchange
from qlir_sim.faults import Faults, Roll
from qlir_sim.limits import Limits
from qlir_sim.market import Market

HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0

Handler = Callable[[Request, Exchange, Roll], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    market: Market,
    *,
    limits: Limits | None = None,
    faults: Faults | None = None,
    fault_seed: int = 0,
    clock: Clock = time.time,
    listing: Sequence[dict[str, Any]] | None = None,
) -> Starlette:
    """A Starlette app serving `market` over Binance's REST and archive paths, plus `/sim/*`;
    `listing` is exchangeInfo's `symbols` (default: made from the market's symbols)."""
    routes = [
        Route(binance.KLINES_PATH, rest_endpoint(binance.KLINES_WEIGHT, rest.klines)),
        # uiKlines: Binance documents the same parameters and shape, not how its candles are
        # "modified for presentation"; the simulated market serves its candles on both paths.
        Route(binance.UIKLINES_PATH, rest_endpoint(binance.KLINES_WEIGHT, rest.klines)),
        Route(
            binance.EXCHANGE_INFO_PATH,
            rest_endpoint(binance.EXCHANGE_INFO_WEIGHT, rest.exchange_information),
        ),
        Route(binance.TIME_PATH, rest_endpoint(binance.TIME_WEIGHT, rest.server_time)),
        Route(binance.PING_PATH, rest_endpoint(binance.PING_WEIGHT, rest.ping)),
        Route(archive.ROUTE, archive_endpoint(archive.archive_file)),
        Route("/sim/faults", get_faults, methods=["GET"]),
        Route("/sim/faults", set_faults, methods=["POST"]),
        Route("/sim/stats", stats, methods=["GET"]),
        Route("/sim/reset", reset, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.exchange = Exchange(
        market,
        limits or Limits(),
        faults or Faults(),
        fault_seed,
        clock,
        None if listing is None else tuple(listing),
    )
    return app


# --- before a handler runs ----------------------------------------------------------------------


def rest_endpoint(weight: int, handler: Handler) -> Endpoint:
    """A REST endpoint costing `weight`; every answer carries the used weight header."""

    async def endpoint(request: Request) -> Response:
        ex: Exchange = request.app.state.exchange
        ex.stats.rest_requests += 1
        roll = ex.faults.roll()
        await _delay(ex, roll)
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
        await _delay(ex, roll)
        response = await _hang_or_fail(ex, roll) or await handler(request, ex, roll)
        ex.stats.statuses[response.status_code] += 1
        return response

    return endpoint


async def _delay(ex: Exchange, roll: Roll) -> None:
    """A network's round trip: the fixed latency plus up to the jitter, drawn per request."""
    faults = ex.faults.faults
    if faults.latency_ms or faults.latency_jitter_ms:
        ex.stats.fault("latency")
        jitter = roll.rng.uniform(0, faults.latency_jitter_ms)
        await asyncio.sleep((faults.latency_ms + jitter) / 1000)


def _limit(ex: Exchange, weight: int) -> Response | None:
    """418 or 429 (forced, a burst, or the real limit), else charge the weight and go on."""
    limits = ex.limits
    if ex.faults.faults.force_418:
        ex.stats.fault("forced_418")
        return replies.banned(limits.ban_seconds, ex.now_ms() + limits.ban_seconds * 1000)
    if ex.faults.take_burst():
        ex.stats.fault("burst_429")
        return replies.rate_limited(1, limits.weight_limit, limits.interval)
    verdict = ex.limiter.admit(weight, ex.clock())
    if verdict.status == 418:
        assert verdict.banned_until is not None
        return replies.banned(verdict.retry_after, int(verdict.banned_until * 1000))
    if verdict.status == 429:
        return replies.rate_limited(verdict.retry_after, limits.weight_limit, limits.interval)
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
    return replies.server_error(roll.error_status)


# --- /sim/faults (GET, POST), /sim/stats, /sim/reset ---------------------------------------------


async def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(_faults_body(request.app.state.exchange))


async def set_faults(request: Request) -> JSONResponse:
    """Merge a JSON object into the faults; `"reset": true` starts from none, `"seed"` re-seeds."""
    ex: Exchange = request.app.state.exchange
    try:
        changes = json.loads(await request.body() or b"{}")
        if not isinstance(changes, dict):
            raise ValueError("expected a JSON object of fault settings")
        seed = changes.pop("seed", None)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        reset = changes.pop("reset", False)
        base = Faults() if reset else ex.faults.faults
        ex.faults.set(base.updated(changes), seed=seed, rearm=reset or "burst_429" in changes)
    except ValueError as e:  # json.JSONDecodeError is a ValueError too
        return JSONResponse({"error": str(e)}, status_code=400)
    return JSONResponse(_faults_body(ex))


async def stats(request: Request) -> JSONResponse:
    ex: Exchange = request.app.state.exchange
    return JSONResponse(ex.stats.to_json(ex.limiter.snapshot(ex.clock())))


async def reset(request: Request) -> JSONResponse:
    """Counters, weight, bans and faults back to how the server started."""
    ex: Exchange = request.app.state.exchange
    ex.reset()
    return JSONResponse(_faults_body(ex))


def _faults_body(ex: Exchange) -> dict[str, object]:
    return {"faults": ex.faults.faults.to_json(), "burst_429_remaining": ex.faults.burst_left}


# --- serving --------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """A uvicorn server whose owner handles signals (uvicorn re-raises them after shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def listen(host: str = HOST, port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port. Connections queue until serving starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def base_url(sock: socket.socket) -> str:
    """`http://127.0.0.1:43817` for a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def make_server(app: Starlette, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for the app: no lifespan, no websockets, hung requests cut at shutdown."""
    config = uvicorn.Config(
        app,
        lifespan="off",
        ws="none",
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        timeout_graceful_shutdown=1,
    )
    return _Server(config)


def run_until_signal(server: uvicorn.Server, sock: socket.socket) -> None:
    """Serve on `sock` until SIGINT or SIGTERM; a second SIGINT forces the exit."""

    def stop(signum: int, frame: FrameType | None) -> None:
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True
        server.should_exit = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()


@contextlib.contextmanager
def serve(
    market: Market,
    *,
    limits: Limits | None = None,
    faults: Faults | None = None,
    fault_seed: int = 0,
    clock: Clock = time.time,
    host: str = HOST,
    port: int = 0,
    log_level: str = "warning",
    listing: Sequence[dict[str, Any]] | None = None,
) -> Iterator[str]:
    """Run the exchange in a background thread; yields its base URL and stops it on exit."""
    app = create_app(
        market, limits=limits, faults=faults, fault_seed=fault_seed, clock=clock, listing=listing
    )
    sock = listen(host, port)
    server = make_server(app, log_level)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="qlir-sim", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local exchange did not start (see the log above)")
            time.sleep(0.005)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=_START_TIMEOUT_S)
        sock.close()
