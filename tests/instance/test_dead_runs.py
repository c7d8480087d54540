"""With the shipped dagster.yaml, runs killed with -9 never block later runs: the next run marks
them failed and frees what they held, and Dagster's run monitoring learns from the launcher that
their process is gone."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_dagster.instance import LocalRunLauncher, worker_is_dead
from tests.instance.conftest import DAYS, environment, materialize

pytestmark = pytest.mark.slow
BTC = Series.parse("BTCUSDT-1m")


def stored(env: dict[str, str]) -> int:
    return len(Store(env["QLIR_DATA_ROOT"]).stored_days(BTC))


def kill_after_some_days(env: dict[str, str], at_least: int) -> None:
    run = materialize(env)
    deadline = time.monotonic() + 180
    while stored(env) < at_least:
        assert run.poll() is None, run.stderr.read().decode()[-3000:] if run.stderr else ""
        assert time.monotonic() < deadline, "the backfill never stored a day"
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL


def runs(env: dict[str, str]) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return list(reversed(instance.get_runs()))  # oldest first


def test_two_kills_then_the_same_backfill_completes_and_the_killed_runs_fail(
    tmp_path: Path, slow_exchange: str
) -> None:
    env = environment(tmp_path, "killed", slow_exchange)
    kill_after_some_days(env, 1)
    kill_after_some_days(env, stored(env) + 1)  # once the second run has stored a day too
    assert stored(env) < DAYS
    first, second = runs(env)
    # The second run found the first one's process gone and marked it failed before fetching.
    assert (first.status, second.status) == (
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.STARTED,
    )

    # What the daemon's run monitoring asks the launcher about the second one.
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, LocalRunLauncher)
        assert worker_is_dead(instance, second.run_id)
        assert launcher.check_run_worker_health(second).status.name == "FAILED"

    again = materialize(env)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-3000:]

    clean_env = environment(tmp_path, "clean", slow_exchange)
    clean = materialize(clean_env)
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err.decode()[-3000:]

    def dataset(e: dict[str, str]) -> pd.DataFrame:
        return Store(e["QLIR_DATA_ROOT"]).scan_candles(BTC).reset_index(drop=True)

    assert stored(env) == DAYS
    pd.testing.assert_frame_equal(dataset(env), dataset(clean_env))
    statuses = [r.status for r in runs(env)]
    assert statuses == [dg.DagsterRunStatus.FAILURE] * 2 + [dg.DagsterRunStatus.SUCCESS]


def test_a_live_run_is_not_taken_for_dead(tmp_path: Path, slow_exchange: str) -> None:
    env = environment(tmp_path, "live", slow_exchange)
    run = materialize(env)
    try:
        deadline = time.monotonic() + 120
        while not runs(env) or stored(env) < 1:
            assert run.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            (live,) = runs(env)
            assert not worker_is_dead(instance, live.run_id)
            assert instance.run_launcher.check_run_worker_health(live).status.name == "RUNNING"
    finally:
        _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err.decode()[-3000:]
