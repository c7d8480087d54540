"""The simulator's own endpoints: `/sim/faults` (GET, POST), `/sim/stats`, `/sim/reset`."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse

from qlir_sim.exchange import Exchange
from qlir_sim.faults import Faults


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
