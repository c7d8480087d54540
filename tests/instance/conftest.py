"""Fixtures for the instance tests: Dagster homes made the way the scripts make them (the shipped
dagster.yaml, databases created once), a slow local exchange, and CLI runs in their own process
groups."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from qlir_sim.process import running

REPO = Path(__file__).resolve().parents[2]
FIRST = date(2024, 1, 1)
SIM_DAYS = 30  # what the exchange serves


def days_range(days: int) -> str:
    """The klines range of BTCUSDT-1m over the first `days` days."""
    return f"{FIRST}|BTCUSDT-1m...{FIRST + timedelta(days=days - 1)}|BTCUSDT-1m"


DAYS = 8
RANGE = days_range(DAYS)


@pytest.fixture(scope="module")
def slow_exchange() -> Iterator[str]:
    """`qlir-sim` in its own process, answering after 60 ms: a range takes seconds."""
    with running(
        "--synthetic", "--symbols", "BTCUSDT", "--start", FIRST.isoformat(),
        "--days", str(SIM_DAYS), "--latency-ms", "60",
    ) as url:  # fmt: skip
        yield url


def scripts_home(home: Path) -> None:
    """A Dagster home as `scripts/_env.sh` makes it: the repo's dagster.yaml, migrated once."""
    env = os.environ | {"DAGSTER_HOME": str(home)}
    subprocess.run(["bash", "-c", "source scripts/_env.sh"], cwd=REPO, env=env, check=True)
    assert (home / "dagster.yaml").read_text() == (REPO / "dagster.yaml").read_text()


def environment(tmp_path: Path, name: str, url: str) -> dict[str, str]:
    home = tmp_path / name / "dagster_home"
    scripts_home(home)
    scratch = tmp_path / "tmp"  # shared: the request-weight budget's folder is in it
    scratch.mkdir(exist_ok=True)
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "TMPDIR": str(scratch),
        "QLIR_BUDGET_DIR": str(scratch / "budget"),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_SERIES": "BTCUSDT-1m",
        "QLIR_START_DATE": FIRST.isoformat(),
        "QLIR_SOURCE": "rest",
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
        "QLIR_DATA_ROOT": str(tmp_path / name / "data"),
    }


def materialize(env: dict[str, str], partition_range: str = RANGE) -> subprocess.Popen[bytes]:
    """`dagster asset materialize` of a klines range, in its own process group."""
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "qlir_dagster.definitions", "--select", "klines"]
    command += ["--partition-range", partition_range]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
