"""`qlir studies new|list`: a user study scaffolded in a fresh project, listed beside the
built-ins, its generated test passing, and materialized by the dagster CLI over real days."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from qlir_cli.scaffold import write_study
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.studies.registry import builtin_studies
from tests.cli.conftest import fill, qlir_process
from tests.conftest import REPO, shipped_home

BTC = Series.parse("BTCUSDT-1m")


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.slow
def test_a_new_study_is_listed_with_the_builtins_and_its_test_passes(project):
    made = qlir_process("studies", "new", "my_breakout")
    assert made.code == 0, made.err
    assert files(project / "studies") == ["my_breakout.py", "test_my_breakout.py"]

    listed = qlir_process("studies", "list", "--json")
    assert listed.code == 0, listed.err
    rows = {r["name"]: r for r in json.loads(listed.out)}
    builtin = {s.name for s in builtin_studies()}
    assert {"sma_study", "band_touch_study"} <= builtin
    assert set(rows) == builtin | {"my_breakout"}
    assert rows["my_breakout"]["parameters"] == {"lookback": 20, "horizon": 15}
    assert rows["my_breakout"]["file"] == str(project / "studies" / "my_breakout.py")
    assert rows["sma_study"]["file"] == str(REPO / "qlir_core" / "studies" / "builtin.py")
    assert rows["sma_study"]["parameters"]["windows"] == [14, 50, 200]
    text = qlir_process("studies", "list")
    assert "my_breakout       Breakouts: closes above the highest high" in text.out

    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "studies"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "3 passed" in tested.stdout


@pytest.mark.slow
def test_the_studies_folder_is_a_setting(project, monkeypatch):
    monkeypatch.setenv("QLIR_STUDIES_PATH", str(project / "research"))
    assert qlir_process("studies", "new", "mean_reversion").code == 0
    assert files(project / "research") == ["mean_reversion.py", "test_mean_reversion.py"]
    assert not (project / "studies").exists()
    monkeypatch.delenv("QLIR_STUDIES_PATH")
    with (project / "qlir.toml").open("a") as settings:
        settings.write('studies_path = "./research"\n')
    listed = qlir_process("studies", "list", "--json")
    assert "mean_reversion" in {r["name"] for r in json.loads(listed.out)}


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("9lives", "'9lives' is not a Python identifier"),
        ("my-study", "'my-study' is not a Python identifier"),
        ("class", "'class' is not a Python identifier"),
        ("sma_study", "a study or asset named 'sma_study' already exists"),
        ("klines", "a study or asset named 'klines' already exists"),
        ("my_breakout", "a study or asset named 'my_breakout' already exists"),
    ],
)
def test_a_bad_or_taken_name_is_refused_and_nothing_is_written(project, qlir, name, says):
    write_study(project / "studies", "my_breakout")
    before = {p: p.read_bytes() for p in (project / "studies").iterdir()}
    refused = qlir("studies", "new", name)
    assert refused.code == 2
    assert says in refused.one_error_line()
    assert {p: p.read_bytes() for p in (project / "studies").iterdir()} == before


@pytest.mark.slow
def test_a_new_study_materializes_from_the_dagster_cli_over_real_days(
    project, mirror, tmp_path, monkeypatch
):
    assert qlir_process("studies", "new", "my_breakout").code == 0
    fill(project / "data", BTC, [date(2023, 1, 21)], archive=str(mirror), rest="http://127.0.0.1:9")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    env = os.environ | {"DAGSTER_HOME": str(shipped_home(tmp_path / "dagster_home"))}
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m"]
    command += ["qlir_dagster.definitions", "--select", "my_breakout", "--partition", "BTCUSDT-1m"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr

    store = Store(str(project / "data"))
    tables = store.read_study_tables("my_breakout", BTC)
    assert set(tables) == {"breakouts", "summary"}
    breakouts, summary = tables["breakouts"], tables["summary"]
    assert summary["candles"].tolist() == [1440]  # the whole real day
    assert summary["breakouts"].tolist() == [len(breakouts)]
    assert len(breakouts) > 0
    assert (breakouts["close"] > breakouts["prior_high"]).all()
    first, last = pd.Timestamp("2023-01-21", tz="UTC"), pd.Timestamp("2023-01-22", tz="UTC")
    assert breakouts["open_time"].between(first, last).all()


@pytest.mark.slow
def test_a_user_study_that_fails_to_import_is_a_code_location_error_naming_its_file(project):
    (project / "studies").mkdir()
    broken = project / "studies" / "broken.py"
    broken.write_text("import pandas\n\nthreshold = undefined_name\n")
    listed = qlir_process("studies", "list")
    assert listed.code == 1
    assert listed.one_error_line() == (
        f"error: user study {broken} failed to import: "
        "NameError: name 'undefined_name' is not defined (line 3)"
    )
    command = [sys.executable, "-m", "dagster", "definitions", "validate"]
    done = subprocess.run(
        [*command, "-m", "qlir_dagster.definitions"], capture_output=True, text=True, timeout=300
    )
    shown = done.stdout + done.stderr  # Dagster logs the code location's error
    assert f"UserStudyError: user study {broken} failed to import" in shown
    assert "Validation for 1 code locations failed" in shown

    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m"]
    command += ["qlir_dagster.definitions", "--select", "sma_study", "--partition", "BTCUSDT-1m"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"error: user study {broken} failed to import" in done.stderr
    assert "Traceback" not in done.stderr
