"""A stale series turns its freshness check and `qlir health` red; a fresh one stays green."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from tests.conftest import REPO
from tests.observability.conftest import FRESH, STALE, environment, instance_of

pytestmark = pytest.mark.slow


def health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "qlir_cli.main", "health", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_freshness_checks_flag_the_stale_series(observed):
    defs = build_defs(config.load(observed.env))
    job = defs.resolve_job_def("klines_freshness")
    with instance_of(observed.env) as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    by_check = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(by_check) == {"fresh_BTCUSDT_1m", "fresh_ETHUSDT_1m"}
    assert by_check["fresh_BTCUSDT_1m"].passed
    stale = by_check["fresh_ETHUSDT_1m"]
    assert not stale.passed
    assert stale.severity.name == "ERROR"
    assert stale.description.startswith(f"{STALE}: the last stored candle closed 2 days ago")


def test_health_is_red_with_one_line_per_problem(observed):
    done = health(observed.env)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines
    assert all(line.startswith(f"{STALE}: ") for line in lines), lines
    assert any("is not stored (due by 01:00 UTC)" in line for line in lines)


def test_health_is_green_for_the_fresh_series(observed):
    done = health(observed.env | {"QLIR_SERIES": FRESH})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "ok: 1 series fresh, last runs succeeded\n"


def test_health_is_red_when_a_jobs_last_run_failed(observed, market, tmp_path):
    env = observed.env | {"DAGSTER_HOME": environment(tmp_path, market)["DAGSTER_HOME"]}
    assert health(env | {"QLIR_SERIES": FRESH}).returncode == 0  # the same store, no runs yet
    broken = tmp_path / "not-a-folder"
    defs = build_defs(config.load(env | {"QLIR_DATA_ROOT": str(broken)}))
    broken.write_text("")  # after the load: the run's storage check fails
    with instance_of(env) as instance:
        run = defs.resolve_job_def("studies_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
    assert not run.success
    done = health(env | {"QLIR_SERIES": FRESH})
    assert done.returncode == 1
    assert done.stdout == f"job studies_job: the last run ({run.run_id[:8]}) ended failure\n"
