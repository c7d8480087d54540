"""Running the app with uvicorn on loopback: in a thread (tests, demo) or until a signal (CLI)."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Generator, Iterator
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from qlir_sim.app import create_app
from qlir_sim.exchange import Clock
from qlir_sim.faults import Faults
from qlir_sim.limits import Limits
from qlir_sim.market import Market

HOST = "127.0.0.1"
_START_TIMEOUT_S = 10.0


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
) -> Iterator[str]:
    """Run the exchange in a background thread; yields its base URL and stops it on exit."""
    app = create_app(market, limits=limits, faults=faults, fault_seed=fault_seed, clock=clock)
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
