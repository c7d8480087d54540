"""What a user does from a shell: `dagster asset materialize` against qlir-sim."""

import logging
import os
import subprocess
import sys
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from qlir_core.series import Series
from qlir_core.storage import Store, table_bytes, write_atomic
from qlir_core.validation import Rule
from qlir_sim import Faults, Mirror, Synthetic, serve
from tests.conftest import files_under, shipped_home
from tests.dagster.conftest import run_log
from tests.dagster.test_klines_archive import archive_csv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mirror_sim(mirror):
    with serve(Mirror(mirror)) as url:
        yield url


@pytest.fixture
def cli_env(tmp_path):
    home = shipped_home(tmp_path / "dagster_home")
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(tmp_path / "data"),
    }


def materialize(env, *selection: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "qlir_dagster.definitions", "--select", "klines", *selection]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def runs_in(env) -> int:
    """Runs recorded in the instance under DAGSTER_HOME."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return len(instance.get_runs())


@pytest.mark.parametrize("source", ["archive", "rest"])
def test_one_real_day_from_the_cli_is_the_archive_csv(
    mirror, mirror_sim, cli_env, tmp_path, source
):
    env = cli_env | {
        "QLIR_SERIES": "BTCUSDT-1m",
        "QLIR_START_DATE": "2023-01-01",
        "QLIR_SOURCE": source,
        "QLIR_BINANCE_REST_URL": mirror_sim,
        "QLIR_BINANCE_ARCHIVE_URL": mirror_sim,
    }
    done = materialize(env, "--partition", "2023-01-21|BTCUSDT-1m")
    assert done.returncode == 0, done.stderr[-3000:]
    stored = Store(str(tmp_path / "data")).read_candles(
        Series.parse("BTCUSDT-1m"), date(2023, 1, 21)
    )
    pd.testing.assert_frame_equal(stored, archive_csv(mirror, "BTCUSDT-1m", "2023-01-21"))
    manifest = Store(str(tmp_path / "data")).read_manifest(
        Series.parse("BTCUSDT-1m"), date(2023, 1, 21)
    )
    assert [r.n_candles for r in manifest] == ([1440] if source == "archive" else [1000, 440])


def test_a_range_of_30_days_by_3_series_is_one_run(cli_env, tmp_path):
    market = Synthetic(["BTCUSDT", "ETHUSDT", "SOLUSDT"], ["1m"], date(2024, 1, 1), days=30, seed=3)
    with serve(market) as url:
        env = cli_env | {
            "QLIR_SERIES": "BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1m",
            "QLIR_START_DATE": "2024-01-01",
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
        }
        done = materialize(
            env, "--partition-range", "2024-01-01|BTCUSDT-1m...2024-01-30|SOLUSDT-1m"
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("RUN_SUCCESS") == 1
    assert runs_in(env) == 1
    files = sorted((tmp_path / "data" / "klines").rglob("data.parquet"))
    assert len(files) == 90
    store = Store(str(tmp_path / "data"))
    for key in ("BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"):
        assert len(store.scan_candles(Series.parse(key))) == 30 * 1440


def test_a_long_range_is_recorded_partition_by_partition_from_worker_processes(cli_env, tmp_path):
    days = 70  # a long range: fetched, validated and published in worker processes
    corrupt = "2024-02-10"
    market = Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=days, seed=5)
    with serve(market, faults=Faults(corrupt_zip=(corrupt,))) as url:
        env = cli_env | {
            "QLIR_SERIES": "BTCUSDT-1m",
            "QLIR_START_DATE": "2024-01-01",
            "QLIR_SOURCE": "auto",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
        }
        last = date.fromordinal(date(2024, 1, 1).toordinal() + days - 1)
        done = materialize(env, "--partition-range", f"2024-01-01|BTCUSDT-1m...{last}|BTCUSDT-1m")
    assert done.returncode == 0, done.stderr[-3000:]
    keys = {f"{date.fromordinal(date(2024, 1, 1).toordinal() + n)}|BTCUSDT-1m" for n in range(days)}
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [run] = instance.get_runs()
        assert instance.get_materialized_partitions(dg.AssetKey("klines")) == keys
        evaluations = instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
        checked = {e.dagster_event.event_specific_data.partition for e in evaluations}
        assert len(evaluations) == 5 * days
        assert checked == keys
        warnings = run_log(instance, run.run_id, logging.WARNING)
    # The worker's fallback from the corrupt zip to REST, in the run's own log.
    assert [w for w in warnings if "unusable" in w and corrupt in w]
    stored = Store(str(tmp_path / "data")).read_manifest(
        Series.parse("BTCUSDT-1m"), date.fromisoformat(corrupt)
    )
    assert [r.source.value for r in stored][-2:] == ["rest", "rest"]


@pytest.mark.parametrize(
    ("env_change", "partition", "message"),
    [
        (
            {"QLIR_SERIES": "BTCUSDT-7m"},
            "2023-01-21|BTCUSDT-7m",
            "QLIR_SERIES='BTCUSDT-7m' is invalid: series key 'BTCUSDT-7m': unknown interval '7m'",
        ),
        (
            {"QLIR_SERIES": "BTCUSDT1m"},
            "2023-01-21|BTCUSDT1m",
            "QLIR_SERIES='BTCUSDT1m' is invalid: malformed series key",
        ),
        ({"QLIR_SERIES": "BTCUSDT-1m"}, "2022-12-31|BTCUSDT-1m", "2022-12-31|BTCUSDT-1m"),
        (
            {"QLIR_SERIES": "NOSUCHCOIN-1m", "QLIR_SOURCE": "rest"},
            "2023-01-21|NOSUCHCOIN-1m",
            "Binance does not list this symbol",
        ),
    ],
    ids=["interval-7m", "malformed-key", "before-start-date", "unlisted-symbol"],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(
    mirror_sim, cli_env, tmp_path, env_change, partition, message
):
    env = (
        cli_env
        | {
            "QLIR_START_DATE": "2023-01-01",
            "QLIR_BINANCE_REST_URL": mirror_sim,
            "QLIR_BINANCE_ARCHIVE_URL": mirror_sim,
        }
        | env_change
    )
    done = materialize(env, "--partition", partition)
    assert done.returncode != 0
    assert message in done.stderr + done.stdout
    assert files_under(tmp_path / "data") == []


def test_the_checks_job_from_the_cli_exits_non_zero_on_an_error(mirror, cli_env, tmp_path):
    env = cli_env | {
        "QLIR_SERIES": "ETHUSDT-1m",
        "QLIR_START_DATE": "2022-08-01",
        "QLIR_SOURCE": "archive",
        "QLIR_BINANCE_ARCHIVE_URL": str(mirror),
    }
    assert materialize(env, "--partition", "2022-08-14|ETHUSDT-1m").returncode == 0
    command = [sys.executable, "-m", "dagster", "job", "execute"]
    command += ["-m", "qlir_dagster.definitions", "-j", "klines_checks"]
    clean = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr[-3000:]

    # a duplicated candle slipped into the stored table
    store = Store(str(tmp_path / "data"))
    eth, day = Series.parse("ETHUSDT-1m"), date(2022, 8, 14)
    table = store.read_candles(eth, day)
    doubled = pd.concat([table.iloc[:10], table.iloc[9:]], ignore_index=True)
    write_atomic(store.candles_path(eth, day), table_bytes(doubled))
    dirty = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert dirty.returncode != 0
    # the run log names the rule by its enum name
    assert f"ERROR {Rule.DUPLICATE_OPEN.name} ETHUSDT-1m 2022-08-14" in dirty.stderr + dirty.stdout
