"""Steps on Celery workers (dagster-celery, Redis as broker and results backend): a ranged klines
run of 3 series is executed by two worker processes, recorded in PostgreSQL, stored whole."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_sim import Synthetic, serve
from tests.deploy.dagster_cli import REPO, migrated, process, production_home

pytestmark = pytest.mark.slow

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
FIRST = date(2024, 1, 1)
DAYS = 3
LOCATION = ["-f", str(Path(__file__).with_name("celery_location.py"))]


def test_a_ranged_run_executes_its_steps_on_celery_workers(postgres, redis_url, tmp_path):
    db = migrated(postgres.create_database("dagster_celery"), tmp_path / "admin")
    market = Synthetic([s.split("-")[0] for s in SERIES], ["1m"], FIRST, days=DAYS + 1)
    with serve(market) as url:
        env = os.environ | production_home(tmp_path / "home", db.env())
        env |= {
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": ",".join(SERIES),
            "QLIR_START_DATE": FIRST.isoformat(),
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(tmp_path / "data"),
            "QLIR_BUDGET_STORE": redis_url,
            "QLIR_CELERY_BROKER": redis_url,
            # dagster-celery starts the `celery` command of this environment.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        worker_config = tmp_path / "celery.yaml"
        celery = {"broker": redis_url, "backend": redis_url}
        worker_config.write_text(yaml.safe_dump({"execution": {"config": celery}}))
        worker = [str(Path(sys.executable).with_name("dagster-celery")), "worker", "start"]
        worker += ["-A", "dagster_celery.app", "-y", str(worker_config)]
        logs = tmp_path / "logs"
        logs.mkdir()
        with (
            process([*worker, "-n", "one@%h"], env, logs / "worker1.log"),
            process([*worker, "-n", "two@%h"], env, logs / "worker2.log"),
        ):
            last = FIRST + timedelta(days=DAYS - 1)
            command = [sys.executable, "-m", "dagster", "asset", "materialize", *LOCATION]
            command += ["--select", "klines"]
            command += ["--partition-range", f"{FIRST}|{SERIES[0]}...{last}|{SERIES[-1]}"]
            done = subprocess.run(
                command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300
            )
        assert done.returncode == 0, (
            done.stderr[-3000:] + (logs / "worker1.log").read_text()[-2000:]
        )

    executed = db.query("SELECT count(*) FROM event_logs WHERE event LIKE '%in celery worker%'")
    assert executed[0][0] >= 1, (logs / "worker1.log").read_text()[-2000:]
    store = Store(str(tmp_path / "data"))
    for key in SERIES:
        assert len(store.stored_days(Series.parse(key))) == DAYS
