"""The uiklines dataset: the one candle pipeline with `/api/v3/uiKlines` as its endpoint, kept for
the series chosen in QLIR_UIKLINES_SERIES, beside klines and apart from it."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import dagster as dg
import pandas as pd
import pytest

from qlir_core.binance import Endpoint
from qlir_core.manifest import to_frame
from qlir_core.pipeline import now_ms
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.validation import Rule, validate_partition
from qlir_dagster.defs.binance.checks import CHECKS, asset_key
from qlir_sim import Mirror, serve
from tests.conftest import files_under, shipped_home
from tests.dagster.test_klines_archive import archive_csv

UIKLINES = asset_key(Endpoint.UIKLINES)
DAY = "2023-01-21"
KEY = f"{DAY}|BTCUSDT-1m"
BTC = Series.parse("BTCUSDT-1m")


@pytest.fixture(scope="module")
def mirror_sim(mirror):
    with serve(Mirror(mirror)) as url:
        yield url


def cli_env(tmp_path, url: str, **settings: str) -> dict[str, str]:
    """A shell's environment: the shipped dagster.yaml, `url` as both Binance hosts."""
    return os.environ | {
        "DAGSTER_HOME": str(shipped_home(tmp_path / "dagster_home")),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(tmp_path / "data"),
        "QLIR_START_DATE": "2023-01-01",
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
        **settings,
    }


@pytest.fixture
def env(tmp_path, mirror_sim):
    # QLIR_SOURCE=archive: uiKlines are not archived, so the setting cannot apply to them.
    return cli_env(
        tmp_path,
        mirror_sim,
        QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1m",
        QLIR_UIKLINES_SERIES="BTCUSDT-1m",
        QLIR_SOURCE="archive",
    )


def dagster(env, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dagster", *arguments, "-m", "qlir_dagster.definitions"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_uiklines_partition_is_stored_from_rest_and_passes_its_checks(env, tmp_path, mirror):
    done = dagster(env, "asset", "materialize", "--select", "uiklines", "--partition", KEY)
    assert done.returncode == 0, done.stderr[-3000:]

    data = tmp_path / "data"
    store = Store(str(data), endpoint=Endpoint.UIKLINES)
    stored = store.read_candles(BTC, date.fromisoformat(DAY))
    # The local exchange serves its market's candles on both paths.
    pd.testing.assert_frame_equal(stored, archive_csv(mirror, "BTCUSDT-1m", DAY))
    assert (data / "uiklines/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet").is_file()
    ledger = store.read_manifest(BTC, date.fromisoformat(DAY))
    assert [r.n_candles for r in ledger] == [1000, 440]
    assert all("/api/v3/uiKlines?" in r.url for r in ledger)
    # Nothing of klines was asked for or written.
    assert files_under(data / "klines") == []
    assert files_under(data / "versions") == []
    assert Store(str(data)).stored_days(BTC) == []

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (record,) = instance.fetch_materializations(UIKLINES, limit=10).records
        assert record.partition_key == KEY
        assert instance.fetch_materializations(asset_key(Endpoint.KLINES), limit=1).records == []
        for name in CHECKS:
            check = dg.AssetCheckKey(UIKLINES, name)
            (evaluation,) = instance.event_log_storage.get_asset_check_execution_history(check, 5)
            assert evaluation.status.name == "SUCCEEDED", name

    # The checks-only job re-validates what is stored, as CI runs it.
    checked = dagster(env, "job", "execute", "-j", "uiklines_checks")
    assert checked.returncode == 0, checked.stderr[-3000:]


def test_a_klines_ledger_is_refused_in_the_uiklines_dataset(mirror, tmp_path):
    """The datasets never mix: the same day's klines ledger fails uiklines' slice_parse check."""
    with serve(Mirror(mirror)) as url:
        env = cli_env(tmp_path, url, QLIR_SERIES="BTCUSDT-1m", QLIR_SOURCE="rest")
        done = dagster(env, "asset", "materialize", "--select", "klines", "--partition", KEY)
        assert done.returncode == 0, done.stderr[-3000:]
    day = date.fromisoformat(DAY)
    ledger = Store(str(tmp_path / "data")).read_manifest(BTC, day)
    candles = archive_csv(mirror, "BTCUSDT-1m", DAY)
    as_klines = validate_partition(BTC, day, candles, to_frame(ledger), now_ms=now_ms())
    assert as_klines.passed()
    as_ui = validate_partition(
        BTC, day, candles, to_frame(ledger), now_ms=now_ms(), endpoint=Endpoint.UIKLINES
    )
    assert [f.rule for f in as_ui.errors] == [Rule.SLICE_URL]
    assert as_ui.finding(Rule.SLICE_URL).count == 2


def test_uiklines_exists_only_for_the_series_chosen(make_defs):
    plain = make_defs(QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1m")
    assert [k.to_user_string() for k in plain.resolve_all_asset_keys()].count("uiklines") == 0
    chosen = make_defs(QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1m", QLIR_UIKLINES_SERIES="ETHUSDT-1h")
    ui = chosen.resolve_assets_def(UIKLINES)
    keys = ui.partitions_def.get_partition_keys()
    assert {k.split("|")[1] for k in keys} == {"ETHUSDT-1h"}
    assert ui.check_keys == {dg.AssetCheckKey(UIKLINES, name) for name in CHECKS}
    for job in ("uiklines_job", "uiklines_checks", "klines_job", "klines_checks"):
        chosen.resolve_job_def(job)
    names = {s.name for s in chosen.schedules}
    assert {"daily_uiklines", "current_day_uiklines", "daily_klines"} <= names


def test_a_bad_uiklines_series_is_one_line(tmp_path):
    env = os.environ | {
        "DAGSTER_HOME": str(shipped_home(tmp_path / "dagster_home")),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(tmp_path / "data"),
        "QLIR_UIKLINES_SERIES": "BTCUSDT-7m",
    }
    done = dagster(env, "asset", "materialize", "--select", "uiklines", "--partition", KEY)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert line == (
        "error: QLIR_UIKLINES_SERIES='BTCUSDT-7m' is invalid: series key 'BTCUSDT-7m': unknown "
        "interval '7m'; Binance's intervals are: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M"
    )


@pytest.mark.slow
def test_a_key_outside_the_uiklines_series_names_them(env):
    done = dagster(
        env, "asset", "materialize", "--select", "uiklines", "--partition", f"{DAY}|ETHUSDT-1m"
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: partition key '{DAY}|ETHUSDT-1m' is invalid: the series is not configured "
        "(QLIR_UIKLINES_SERIES); expected YYYY-MM-DD|SYMBOL-interval, a day from 2023-01-01 to "
        f"{datetime.now(UTC).date()} (today, UTC) and one of the uiklines series BTCUSDT-1m"
    ]
