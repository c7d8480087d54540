"""Fixtures for the local exchange tests: the real mirror, small synthetic markets, a hand clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from qlir_sim import Limits, Mirror, Synthetic, serve


class HandClock:
    """A server clock that moves only when a test says so (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _small_market(**changes: Any) -> Synthetic:
    args: dict[str, Any] = {
        "symbols": ["BTCUSDT", "ETHUSDT"],
        "intervals": ["1m", "1h"],
        "start": date(2024, 1, 1),
        "days": 3,
        "seed": 7,
    }
    return Synthetic(**(args | changes))


def _archive_path(symbol: str, interval: str, day: str, checksum: bool = False) -> str:
    name = f"{symbol}-{interval}-{day}.zip"
    return f"/data/spot/daily/klines/{symbol}/{interval}/{name}" + (".CHECKSUM" if checksum else "")


@pytest.fixture
def small_market() -> Callable[..., Synthetic]:
    """Builds BTCUSDT and ETHUSDT at 1m and 1h, 2024-01-01 for 3 days, seed 7; kwargs override."""
    return _small_market


@pytest.fixture
def archive_path() -> Callable[..., str]:
    """`archive_path("BTCUSDT", "1m", "2024-01-02", checksum=False)` → the archive URL path."""
    return _archive_path


@pytest.fixture
def hand_clock() -> HandClock:
    """Stopped at 2024-01-10T00:00:30Z."""
    return HandClock(1_704_844_830.0)


@pytest.fixture(scope="session")
def mirror_dir(mirror: Path) -> Path:
    """The real archive sample (tests/conftest.py's `mirror`: it skips or fails when absent)."""
    return mirror


@pytest.fixture(scope="module")
def mirror_url(mirror_dir: Path) -> Iterator[str]:
    """An exchange serving the real mirror."""
    with serve(Mirror(mirror_dir)) as url:
        yield url


@pytest.fixture(scope="module")
def synthetic_url() -> Iterator[str]:
    """An exchange serving the small synthetic market, no faults."""
    with serve(_small_market()) as url:
        yield url


@pytest.fixture(scope="module")
def fault_exchange() -> Iterator[str]:
    """A small synthetic exchange shared by the fault tests (ban length 7 s, fault seed 1)."""
    with serve(_small_market(), limits=Limits(ban_seconds=7), fault_seed=1) as url:
        yield url


@pytest.fixture(scope="module")
def _fault_client(fault_exchange: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fault_exchange, timeout=5) as client:
        yield client


@pytest.fixture
def sim(_fault_client: httpx.Client) -> httpx.Client:
    """A client of the fault exchange, reset to no faults, no weight used, fresh counters."""
    _fault_client.post("/sim/reset").raise_for_status()
    return _fault_client


@pytest.fixture(scope="module")
def synthetic(synthetic_url: str) -> Iterator[httpx.Client]:
    """A client of the small synthetic exchange (one per module: clients are slow to make)."""
    with httpx.Client(base_url=synthetic_url, timeout=5) as client:
        yield client
