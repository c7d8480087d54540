"""Two ranged runs started at the same instant on a brand-new Dagster home made by the scripts:
both succeed, every time, and a later run works (the scripts create the databases once, before
anything can run)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tests.instance.conftest import FIRST, environment, materialize

pytestmark = pytest.mark.slow
TRIALS = 5
SHORT = f"{FIRST}|BTCUSDT-1m...{FIRST}|BTCUSDT-1m"


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_runs_at_once_on_a_new_home(tmp_path: Path, slow_exchange: str, trial: int) -> None:
    env = environment(tmp_path, f"trial{trial}", slow_exchange)
    both = [materialize(env, SHORT), materialize(env, SHORT)]
    for run in both:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err.decode()[-3000:]
    later = materialize(env, SHORT)
    _, err = later.communicate(timeout=300)
    assert later.returncode == 0, err.decode()[-3000:]
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        statuses = [r.status for r in instance.get_runs()]
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 3
