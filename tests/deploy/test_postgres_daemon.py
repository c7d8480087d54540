"""The production instance: a backfill of klines and the studies, launched as from the UI and run by
the daemon, on PostgreSQL; the runs and events are in the database, the data is the laptop's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import pandas as pd
import pytest

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_sim import Synthetic, serve
from tests.conftest import shipped_home
from tests.deploy.dagster_cli import (
    DEFS,
    REPO,
    daemon,
    launch_backfill,
    migrated,
    production_home,
    wait_for_backfill,
    webserver,
)

pytestmark = pytest.mark.slow

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
FIRST = date(2024, 1, 1)
DAYS = 10
LAST = FIRST + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def exchange():
    with serve(
        Synthetic([s.split("-")[0] for s in SERIES], ["1m"], FIRST, days=DAYS + 2, seed=7)
    ) as url:
        yield url


def settings(url: str, root: str) -> dict[str, str]:
    return {
        "QLIR_CONFIG": "/dev/null",
        "QLIR_SERIES": ",".join(SERIES),
        "QLIR_START_DATE": FIRST.isoformat(),
        "QLIR_SOURCE": "auto",
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
        "QLIR_DATA_ROOT": root,
    }


def laptop_run(env: dict[str, str]) -> None:
    """The same data the laptop way: `dagster asset materialize` on the shipped SQLite home."""
    base = [sys.executable, "-m", "dagster", "asset", "materialize", *DEFS]
    commands = [
        [
            *base,
            "--select",
            "klines",
            "--partition-range",
            f"{FIRST}|{SERIES[0]}...{LAST}|{SERIES[-1]}",
        ]
    ]
    commands += [[*base, "--select", "group:studies", "--partition", s] for s in SERIES]
    for command in commands:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]


def study_assets(env: dict[str, str]) -> list[str]:
    """The studies the code location defines (the asset group `studies`)."""
    command = [sys.executable, "-m", "dagster", "asset", "list", *DEFS, "--select", "group:studies"]
    listed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return listed.stdout.split()


def same_data(a: Store, b: Store, studies: list[str]) -> None:
    for key in SERIES:
        series = Series.parse(key)
        for n in range(DAYS):
            day = FIRST + timedelta(days=n)
            left, right = a.read_candles(series, day), b.read_candles(series, day)
            assert left is not None, (key, day)
            assert right is not None, (key, day)
            pd.testing.assert_frame_equal(left, right)
        for study in studies:
            tables, expected = (
                a.read_study_tables(study, series),
                b.read_study_tables(study, series),
            )
            assert tables, (study, key)
            assert tables.keys() == expected.keys(), (study, key)
            for name in tables:
                pd.testing.assert_frame_equal(tables[name], expected[name])


def test_a_backfill_through_the_daemon_on_postgres_stores_what_the_laptop_does(
    postgres, exchange, tmp_path, monkeypatch
):
    db = migrated(postgres.create_database("dagster_backfill"), tmp_path / "admin")
    env = os.environ | production_home(tmp_path / "home", db.env())
    env |= settings(exchange, str(tmp_path / "data"))
    logs = tmp_path / "logs"
    logs.mkdir()
    studies = study_assets(env)
    assert studies
    with webserver(env, logs) as url, daemon(env, logs):
        backfill = launch_backfill(
            url,
            {"klines": (f"{FIRST}|{SERIES[0]}", f"{LAST}|{SERIES[-1]}")} | dict.fromkeys(studies),
        )
        status = wait_for_backfill(url, backfill)
    daemon_log = (logs / "daemon.log").read_text()[-3000:]
    assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, daemon_log

    # Everything Dagster recorded is in PostgreSQL: the backfill, its runs, their events.
    assert db.query(f"SELECT status FROM bulk_actions WHERE key = '{backfill}'") == [(status,)]
    runs = db.query(
        "SELECT r.status, count(*) FROM runs r JOIN run_tags t ON t.run_id = r.run_id "
        f"WHERE t.key = 'dagster/backfill' AND t.value = '{backfill}' GROUP BY r.status"
    )
    assert dict(runs).keys() == {"SUCCESS"}, runs
    # The backfill's own materializations: other automation (the daemon's schedules and
    # sensors) may materialize further partitions meanwhile, and is not counted.
    materialized = db.query(
        "SELECT e.asset_key, count(DISTINCT e.partition) FROM event_logs e "
        "JOIN run_tags t ON t.run_id = e.run_id "
        f"WHERE t.key = 'dagster/backfill' AND t.value = '{backfill}' "
        "AND e.dagster_event_type = 'ASSET_MATERIALIZATION' GROUP BY e.asset_key"
    )
    counts = {key.strip('[]"'): n for key, n in materialized}
    counts = {key: n for key, n in counts.items() if key == "klines" or key in studies}
    assert counts == {"klines": len(SERIES) * DAYS} | dict.fromkeys(studies, len(SERIES))

    laptop = os.environ | settings(exchange, str(tmp_path / "laptop"))
    laptop["DAGSTER_HOME"] = str(tmp_path / "laptop_home")
    monkeypatch.setenv("DAGSTER_HOME", laptop["DAGSTER_HOME"])  # the laptop yaml reads it
    shipped_home(tmp_path / "laptop_home")
    laptop_run(laptop)
    same_data(Store(str(tmp_path / "data")), Store(str(tmp_path / "laptop")), studies)
