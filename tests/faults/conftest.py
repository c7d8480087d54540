"""Fixtures for the fault tests: one local exchange per module, reset and re-armed per test;
clients whose request-weight budget lives in a temporary folder; fast retries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from qlir_core import ingest
from qlir_core.errors import QlirError
from qlir_core.ingest import RetryPolicy, SourceMode, Sources, fetch_partition
from qlir_core.manifest import ManifestRow
from qlir_core.pacing import Budget, WeightLimit
from qlir_core.series import Series
from qlir_core.sources import rest
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import PartitionData
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_sim import Limits, Market, Synthetic, create_app, serve
from qlir_sim import app as sim_app

DAY = date(2024, 1, 2)
BTC_1M = Series.parse("BTCUSDT-1m")
LOG = logging.getLogger("tests.faults")
FAST = RetryPolicy(backoff_s=0.01, max_backoff_s=0.05)
EXCHANGE_LIMIT = WeightLimit(6000, 60.0)  # the module exchange's (Limits' defaults)
PATIENT_S = 10.0  # a read timeout no loaded machine reaches unless a fault hangs the answer
# Long after the market's days: every one of them is closed.
LATER_MS = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)


def market(**changes: Any) -> Synthetic:
    """BTCUSDT and ETHUSDT at 1m and 1h, 2024-01-01 for 5 days, seed 11; kwargs override."""
    args: dict[str, Any] = {
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["1m", "1h"],
        "start": date(2024, 1, 1),
        "days": 5,
        "seed": 11,
    }
    return Synthetic(**(args | changes))


class Sim:
    """A client of the exchange's control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=10)

    def reset(self) -> None:
        self._http.post("/sim/reset").raise_for_status()

    def faults(self, **faults: Any) -> None:
        """Switch to exactly these faults (and re-seed the dice when `seed` is given)."""
        response = self._http.post("/sim/faults", json={"reset": True, **faults})
        assert response.status_code == 200, response.text

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self._http.get("/sim/stats").json()
        return body

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="module")
def exchange() -> Iterator[str]:
    """A small synthetic exchange (ban length 3 s) shared by a module's tests."""
    with serve(market(), limits=Limits(ban_seconds=3), fault_seed=1) as url:
        yield url


@pytest.fixture
def sim(exchange: str) -> Iterator[Sim]:
    """The module's exchange, reset: no faults, no weight used, fresh counters and dice."""
    control = Sim(exchange)
    control.reset()
    yield control
    control.close()


@pytest.fixture
def budget_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder for the shared budget, also the default one (QLIR_BUDGET_DIR, for
    Dagster's clients)."""
    folder = tmp_path / "budget"
    monkeypatch.setenv("QLIR_BUDGET_DIR", str(folder))
    return folder


@pytest.fixture
def client(sim: Sim, budget_dir: Path) -> Iterator[RestClient]:
    """A REST client of the exchange: the budget in the test's folder, configured with the
    exchange's limit (so that it never reads exchangeInfo, and the exchange counts only the
    requests a test makes)."""
    budget = Budget.for_url(sim.url, folder=budget_dir, limit=EXCHANGE_LIMIT)
    with RestClient(sim.url, timeout=PATIENT_S, budget=budget) as c:
        yield c


class Recorder:
    """ASGI middleware: the path and query of every request the exchange is sent, in order."""

    def __init__(self, app: ASGIApp, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope["query_string"].decode()
            self.seen.append(scope["path"] + (f"?{query}" if query else ""))
        await self.app(scope, receive, send)


@contextmanager
def serve_recorded(market: Market, **options: Any) -> Iterator[tuple[str, list[str]]]:
    """Like qlir_sim's `serve`, and what the exchange was sent: (its URL, the requests)."""
    app = create_app(market, **options)
    seen: list[str] = []
    app.add_middleware(Recorder, seen=seen)
    sock = sim_app.listen()
    server = sim_app.make_server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the exchange did not start"
            assert time.monotonic() < deadline, "the exchange did not start in time"
            time.sleep(0.005)
        yield sim_app.base_url(sock), seen
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Outcome:
    """What a fetch gave: the partition, or the error; and every attempt's row either way."""

    part: PartitionData | None
    error: QlirError | None
    ledger: list[ManifestRow]

    @property
    def reasons(self) -> list[str]:
        return [r.reason.value for r in self.ledger]


Fetch = Callable[..., Outcome]


@pytest.fixture
def fetch(client: RestClient, sim: Sim) -> Fetch:
    """`fetch(series=BTC_1M, day=DAY, mode=SourceMode.REST, policy=FAST)` → Outcome; the
    REST client and the archive default to the module exchange's."""

    def run(
        series: Series = BTC_1M,
        day: date = DAY,
        mode: SourceMode = SourceMode.REST,
        policy: RetryPolicy = FAST,
        rest_client: RestClient | None = None,
        archive: ArchiveClient | None = None,
    ) -> Outcome:
        sources = Sources(mode, rest_client or client, archive or ArchiveClient(sim.url), policy)
        ledger: list[ManifestRow] = []
        try:
            part = fetch_partition(series, day, sources, now_ms=LATER_MS, log=LOG, ledger=ledger)
        except QlirError as e:
            return Outcome(None, e, ledger)
        assert part.manifest == ledger  # the ledger is the partition's manifest
        return Outcome(part, None, ledger)

    return run


@pytest.fixture
def served() -> Callable[[Series, date], Any]:
    """The candles the exchange serves for a day, untampered."""
    clean = market()
    return lambda series, day: clean.full_day(series, day)


@pytest.fixture
def fast_dagster(monkeypatch: pytest.MonkeyPatch, budget_dir: Path) -> None:
    """Dagster's clients retry fast and time out after 1 s (their code takes no options)."""
    monkeypatch.setattr(ingest, "DEFAULT_RETRY", FAST)
    monkeypatch.setattr(rest, "TIMEOUT_S", 1.0)


@pytest.fixture
def make_defs(
    tmp_path: Path, fast_dagster: None, budget_dir: Path
) -> Callable[..., dg.Definitions]:
    """Definitions reading REST (and the archive) from `url`, storing under tmp_path/data. The
    exchange's limit is known in the budget (as after an earlier run read it from exchangeInfo),
    so the exchange counts only the klines requests."""

    def make(url: str, **env: str) -> dg.Definitions:
        Budget.for_url(url, folder=budget_dir).learn(EXCHANGE_LIMIT)
        values = {
            "QLIR_DATA_ROOT": str(tmp_path / "data"),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": "BTCUSDT-1m",
            "QLIR_START_DATE": "2024-01-01",
            "QLIR_SOURCE": "rest",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
        } | env
        return build_defs(config.load(values))

    return make


def limit_of(url: str) -> WeightLimit:
    """The exchange's REQUEST_WEIGHT, read without a client (and without a budget)."""
    info = httpx.get(f"{url}/api/v3/exchangeInfo", timeout=5).json()
    weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
    seconds = {"SECOND": 1, "MINUTE": 60}[weight["interval"]] * weight["intervalNum"]
    return WeightLimit(weight["limit"], float(seconds))
