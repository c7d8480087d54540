"""The ASGI app factory: routes wired to one Exchange. Running it is server.py's job."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.routing import Route

from qlir_sim import control, rest
from qlir_sim.archive_files import ROUTE as ARCHIVE_ROUTE
from qlir_sim.archive_files import archive_file
from qlir_sim.exchange import Clock, Exchange
from qlir_sim.faults import Faults
from qlir_sim.gate import archive_endpoint, rest_endpoint
from qlir_sim.limits import WEIGHTS, Limits
from qlir_sim.market import Market


def create_app(
    market: Market,
    *,
    limits: Limits | None = None,
    faults: Faults | None = None,
    fault_seed: int = 0,
    clock: Clock = time.time,
) -> Starlette:
    """A Starlette app serving `market` over Binance's REST and archive paths, plus `/sim/*`."""
    routes = [
        Route("/api/v3/klines", rest_endpoint(WEIGHTS["klines"], rest.klines)),
        Route(
            "/api/v3/exchangeInfo",
            rest_endpoint(WEIGHTS["exchangeInfo"], rest.exchange_information),
        ),
        Route("/api/v3/time", rest_endpoint(WEIGHTS["time"], rest.server_time)),
        Route("/api/v3/ping", rest_endpoint(WEIGHTS["ping"], rest.ping)),
        Route(ARCHIVE_ROUTE, archive_endpoint(archive_file)),
        Route("/sim/faults", control.get_faults, methods=["GET"]),
        Route("/sim/faults", control.set_faults, methods=["POST"]),
        Route("/sim/stats", control.stats, methods=["GET"]),
        Route("/sim/reset", control.reset, methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.exchange = Exchange(market, limits or Limits(), faults or Faults(), fault_seed, clock)
    return app
