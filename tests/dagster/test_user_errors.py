"""A user error in a shell is one line naming the setting or key and the valid form, and loading
the code location prints no notice about Dagster's API maturity."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from qlir_core.errors import ConfigError
from qlir_core.series import Series
from qlir_dagster import config
from qlir_dagster.console import user_message
from qlir_dagster.defs.binance.partitions import key_problem
from tests.conftest import shipped_home

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 1)
VALID = "expected YYYY-MM-DD|SYMBOL-interval, a day from 2024-01-01 to 2026-12-01 (today, UTC) and one of the series BTCUSDT-1m, ETHUSDT-1h"


@pytest.fixture
def settings(tmp_path) -> config.Settings:
    return config.load(
        {
            "QLIR_CONFIG": "/dev/null",
            "QLIR_DATA_ROOT": str(tmp_path / "data"),
            "QLIR_SERIES": "BTCUSDT-1m,ETHUSDT-1h",
            "QLIR_START_DATE": "2024-01-01",
        }
    )


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("2024-01-01|BTCUSDT-1m", None),
        ("2026-12-01|ETHUSDT-1h", None),  # today
        (" 2025-06-30|ETHUSDT-1h ", None),
        ("BAD", "not a day and a series"),
        ("BTCUSDT-1m|2024-01-01", "not a day and a series"),
        ("20240101|BTCUSDT-1m", "not a day and a series"),
        ("2024-02-30|BTCUSDT-1m", "2024-02-30 is not a date"),
        ("2023-12-31|BTCUSDT-1m", "the day is before the first day (QLIR_START_DATE)"),
        ("2026-12-02|BTCUSDT-1m", "the day is after today"),
        ("2024-01-01|SOLUSDT-1m", "the series is not configured (QLIR_SERIES)"),
        ("2024-01-01|BTCUSDT-1h", "the series is not configured (QLIR_SERIES)"),
    ],
)
def test_a_partition_key_problem_names_the_form_and_the_range(settings, key, reason):
    problem = key_problem(key, settings, TODAY)
    if reason is None:
        assert problem is None
    else:
        assert problem == f"partition key {key!r} is invalid: {reason}; {VALID}"


def test_a_dagster_partition_error_becomes_the_key_problem(settings, monkeypatch):
    monkeypatch.setattr(config, "load", lambda: settings)
    try:
        try:
            raise dg.DagsterUnknownPartitionError("Could not find a partition with key `BAD`.")
        except dg.DagsterUnknownPartitionError:
            raise dg.DagsterInvalidSubsetError(
                "All selected assets must have a PartitionsDefinition containing the passed"
                " partition key `BAD` or have no PartitionsDefinition."
            ) from None
    except dg.DagsterInvalidSubsetError as e:
        message = user_message(e, ["dagster", "asset", "materialize", "--partition", "BAD"])
    assert message is not None
    assert message.startswith("partition key 'BAD' is invalid: not a day and a series; expected")


def test_a_range_across_series_names_the_unconfigured_end(settings, monkeypatch):
    monkeypatch.setattr(config, "load", lambda: settings)
    today = datetime.now(UTC).date().isoformat()
    error = dg.DagsterInvalidSubsetError(f"... the passed partition key `{today}|BTCUSDT-1m` ...")
    argv = ["dg", "launch", f"--partition-range={today}|BTCUSDT-1m...{today}|SOLUSDT-1m"]
    message = user_message(error, argv)
    assert message is not None
    assert message.startswith(f"partition key '{today}|SOLUSDT-1m' is invalid: the series is")


@pytest.mark.parametrize("select", [["--assets", "uiklines"], ["--select=uiklines"]])
def test_a_uiklines_key_is_judged_by_the_uiklines_series(settings, monkeypatch, select):
    ui = settings.model_copy(update={"uiklines_series": (Series.parse("ETHUSDT-1h"),)})
    monkeypatch.setattr(config, "load", lambda: ui)
    error = dg.DagsterInvalidSubsetError("... the passed partition key `2024-01-01|BTCUSDT-1m` ...")
    message = user_message(error, ["dg", "launch", *select, "--partition", "2024-01-01|BTCUSDT-1m"])
    assert message is not None
    assert message.startswith(
        "partition key '2024-01-01|BTCUSDT-1m' is invalid: the series is not configured "
        "(QLIR_UIKLINES_SERIES);"
    )
    assert message.endswith("and one of the uiklines series ETHUSDT-1h")


def test_other_errors_keep_their_traceback():
    assert user_message(RuntimeError("boom"), []) is None
    wrapped = RuntimeError("loading failed")
    wrapped.__cause__ = ConfigError(
        "QLIR_SOURCE='x' is invalid: expected one of auto, rest, archive"
    )
    assert user_message(wrapped, []) == str(wrapped.__cause__)


# -- in a subprocess, as a user runs it ----------------------------------------------------------


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    home = shipped_home(tmp_path / "dagster_home")
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_DATA_ROOT": str(tmp_path / "data"),
        "QLIR_SERIES": "BTCUSDT-1m",
        "QLIR_START_DATE": "2024-01-01",
        # Nothing is fetched: every case stops before a request.
        "QLIR_BINANCE_REST_URL": "http://127.0.0.1:9",
        "QLIR_BINANCE_ARCHIVE_URL": "http://127.0.0.1:9",
        "VIRTUAL_ENV": sys.prefix,
    }


def run(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def materialize(env: dict[str, str], partition: str) -> subprocess.CompletedProcess[str]:
    return run(
        env,
        *(sys.executable, "-m", "dagster", "asset", "materialize"),
        *("-m", "qlir_dagster.definitions", "--select", "klines", "--partition", partition),
    )


def assert_one_line(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {message}"], done.stderr[-3000:]


def test_loading_the_definitions_prints_no_dagster_notice(env):
    done = run(
        env,
        *(sys.executable, "-W", "always", "-c", "import qlir_dagster.definitions"),
    )
    assert done.returncode == 0, done.stderr
    for notice in ("BetaWarning", "PreviewWarning", "SupersessionWarning", "DeprecationWarning"):
        assert notice not in done.stderr


@pytest.mark.slow
def test_a_bad_setting_from_the_cli_is_one_line(env):
    done = materialize(env | {"QLIR_SOURCE": "archiv"}, "2024-01-01|BTCUSDT-1m")
    assert_one_line(done, "QLIR_SOURCE='archiv' is invalid: expected one of auto, rest, archive")


@pytest.mark.slow
def test_a_data_root_under_a_file_from_the_cli_is_one_line(env, tmp_path):
    (tmp_path / "a_file").write_text("")
    root = tmp_path / "a_file" / "data"
    done = materialize(env | {"QLIR_DATA_ROOT": str(root)}, "2024-01-01|BTCUSDT-1m")
    assert_one_line(
        done,
        f"QLIR_DATA_ROOT='{root}' is invalid: {tmp_path / 'a_file'} is a file; "
        "expected a folder or s3://bucket/prefix",
    )


@pytest.mark.slow
def test_a_bad_partition_key_from_the_cli_is_one_line(env):
    today = datetime.now(UTC).date()
    key = f"{today + timedelta(days=1)}|BTCUSDT-1m"
    assert_one_line(
        materialize(env, key),
        f"partition key '{key}' is invalid: the day is after today; expected "
        f"YYYY-MM-DD|SYMBOL-interval, a day from 2024-01-01 to {today} (today, UTC) "
        "and one of the series BTCUSDT-1m",
    )


@pytest.mark.slow
def test_a_bad_partition_key_from_dg_launch_is_one_line(env):
    done = run(env, str(Path(sys.executable).with_name("dg")), "launch", "--assets", "klines",
               "--partition", "BAD")  # fmt: skip
    today = datetime.now(UTC).date()
    assert_one_line(
        done,
        "partition key 'BAD' is invalid: not a day and a series; expected "
        f"YYYY-MM-DD|SYMBOL-interval, a day from 2024-01-01 to {today} (today, UTC) "
        "and one of the series BTCUSDT-1m",
    )


@pytest.mark.slow
def test_a_bad_demo_option_is_one_line(env, tmp_path):
    (tmp_path / "a_file").write_text("")
    root = tmp_path / "a_file" / "demo"
    done = run(env, sys.executable, "-m", "qlir_dagster.demo", "--data-root", str(root))
    assert done.returncode == 2
    assert_one_line(
        done,
        f"QLIR_DATA_ROOT='{root}' is invalid: {tmp_path / 'a_file'} is a file; "
        "expected a folder or s3://bucket/prefix",
    )
