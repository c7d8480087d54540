"""kill -9 in the middle of a 30-day ranged CLI run: every day stored before the kill is
materialized in the catalog of that DAGSTER_HOME."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from qlir_core.series import Series
from qlir_core.storage import Store
from tests.instance.conftest import SIM_DAYS, days_range, environment, materialize

pytestmark = pytest.mark.slow
BTC = Series.parse("BTCUSDT-1m")
WORKERS = 2  # partitions of the run fetched at once


def test_kill_9_leaves_every_stored_day_in_the_catalog(tmp_path: Path, slow_exchange: str) -> None:
    env = environment(tmp_path, "killed", slow_exchange) | {"QLIR_FETCH_WORKERS": str(WORKERS)}
    run = materialize(env, days_range(SIM_DAYS))
    store = Store(env["QLIR_DATA_ROOT"])
    deadline = time.monotonic() + 180
    while len(store.stored_days(BTC)) < 5:
        assert run.poll() is None, run.stderr.read().decode()[-3000:] if run.stderr else ""
        assert time.monotonic() < deadline, "the backfill never stored a day"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL

    stored = {f"{d}|BTCUSDT-1m" for d in store.stored_days(BTC)}
    assert 5 <= len(stored) < SIM_DAYS
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        materialized = instance.get_materialized_partitions(dg.AssetKey("klines"))
    # A day's event is written as soon as the run's main thread takes its outcome: only the
    # days being fetched at the moment of the kill (at most one per worker) may be on disk
    # without one. Running the range again materializes them (test_crash).
    assert materialized <= stored
    assert len(stored - materialized) <= WORKERS
