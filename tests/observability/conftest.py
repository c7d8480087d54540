"""A store made the way a user makes one: `dagster asset materialize` of ranges on the shipped
dagster.yaml, against qlir-sim's synthetic market running up to now. BTCUSDT-1m is fresh (the
day before yesterday to today), ETHUSDT-1m stale (one day, three days ago)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from qlir_sim import Synthetic, serve
from tests.conftest import REPO, away_from_midnight, shipped_home

FRESH, STALE = "BTCUSDT-1m", "ETHUSDT-1m"


def key_range(series: str, first: date, last: date) -> str:
    return f"{first}|{series}...{last}|{series}"


@dataclass(frozen=True)
class Market:
    """The synthetic market at `url`, from `start` up to now (today)."""

    url: str
    start: date
    today: date


@pytest.fixture(scope="package")
def market() -> Iterator[Market]:
    # The tests see today as partial and count the days up to it: the package starts once today
    # has candles, and well before it closes.
    today = away_from_midnight(after=timedelta(minutes=10), before=timedelta(minutes=30)).date()
    start = today - timedelta(days=3)
    with serve(Synthetic(["BTCUSDT", "ETHUSDT"], ["1m"], start, days=None, seed=5)) as url:
        yield Market(url, start, today)


def environment(root: Path, market: Market, **settings: str) -> dict[str, str]:
    """QLIR_* settings for a home, a data root and a log folder under `root`."""
    home = root / "dagster_home"
    # The shipped dagster.yaml names its storage folder by DAGSTER_HOME.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        shipped_home(home)
    return (
        os.environ
        | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": f"{FRESH},{STALE}",
            "QLIR_START_DATE": market.start.isoformat(),
            "QLIR_SOURCE": "rest",
            "QLIR_BINANCE_REST_URL": market.url,
            "QLIR_BINANCE_ARCHIVE_URL": market.url,
            "QLIR_DATA_ROOT": str(root / "data"),
            "QLIR_LOG_DIR": str(root / "logs"),
            "QLIR_BUDGET_DIR": str(root / "budget"),
        }
        | settings
    )


@contextmanager
def instance_of(env: dict[str, str]) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance of `env`'s home (its dagster.yaml reads DAGSTER_HOME)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            yield instance


def materialize(env: dict[str, str], partition_range: str) -> None:
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "qlir_dagster.definitions", "--select", "klines"]
    command += ["--partition-range", partition_range]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def log_lines(folder: Path) -> list[dict[str, Any]]:
    """Every line of every JSON log file under `folder`, parsed (a line that is not JSON fails)."""
    return [
        json.loads(line)
        for p in sorted(folder.glob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


@dataclass(frozen=True)
class Observed:
    env: dict[str, str]
    root: Path
    market: Market

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


@pytest.fixture(scope="package")
def observed(market: Market, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    """Both series stored under qlir-debug: two ranged runs."""
    root = tmp_path_factory.mktemp("observed")
    env = environment(root, market, QLIR_LOG_PROFILE="qlir-debug")
    today = market.today
    materialize(env, key_range(FRESH, today - timedelta(days=2), today))
    materialize(env, key_range(STALE, market.start, market.start))
    return Observed(env, root, market)
