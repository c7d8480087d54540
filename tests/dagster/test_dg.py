"""The `dg` CLI over the project in pyproject's [tool.dg]: the code location loads and lists."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shipped_home

REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")

pytestmark = pytest.mark.slow


@pytest.fixture
def dg_env(tmp_path):
    """The repository's dagster.yaml in a fresh DAGSTER_HOME, and settings that fetch nothing."""
    home = shipped_home(tmp_path / "dagster_home")
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(tmp_path / "data"),
        "QLIR_SERIES": "BTCUSDT-1m,ETHUSDT-1h",
        # The project's own environment, as `uv run dg` activates it.
        "VIRTUAL_ENV": sys.prefix,
    }


def dg(env, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def test_dg_check_defs_succeeds(dg_env):
    done = dg(dg_env, "check", "defs")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_list_defs_shows_every_asset_check_job_and_schedule(dg_env):
    done = dg(dg_env, "list", "defs", "--json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    listed = json.loads(done.stdout)
    assert {a["asset_key"] for a in listed["assets"]} == {
        *("klines", "sma_study", "band_touch_study", "marks_backtest", "signals"),
    }
    assert {c["name"] for c in listed["asset_checks"]} == {
        "slice_parse",
        "slice_spacing",
        "candle_schema",
        "candle_spacing",
        "completeness",
        "alerts",
        "fresh_BTCUSDT_1m",  # freshness, one per series
        "fresh_ETHUSDT_1h",
    }
    assert {j["name"] for j in listed["jobs"]} >= {
        *("klines_job", "klines_checks", "studies_job", "klines_freshness"),
    }
    assert {s["name"] for s in listed["schedules"]} == {
        *("daily_klines", "current_day_klines", "klines_freshness_schedule"),
    }
    assert {s["name"] for s in listed["sensors"]} == {
        "studies_on_new_klines",
        "signals_on_new_klines",
    }
