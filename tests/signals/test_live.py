"""The live signal on the real ETHUSDT mirror days agrees with the study's per-candle marks at the
last candle."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from qlir_core.storage import Store
from qlir_core.studies.marks import MARK_FLAGS
from qlir_core.studies.signals import live_signals
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from tests.conftest import shipped_home
from tests.signals.conftest import ETH


@pytest.fixture
def eth_store(mirror, tmp_path, monkeypatch) -> Store:
    """Both mirror days as klines, and the SMA and band studies over them, through Dagster."""
    defs = build_defs(
        config.load(
            {
                "QLIR_CONFIG": "/dev/null",
                "QLIR_DATA_ROOT": str(tmp_path / "data"),
                "QLIR_SERIES": ETH.key,
                "QLIR_START_DATE": "2022-08-01",
                "QLIR_SOURCE": "archive",
                "QLIR_BINANCE_ARCHIVE_URL": str(mirror),
            }
        )
    )
    # The shipped dagster.yaml, as users run it.
    home = shipped_home(tmp_path / "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    for day in ("2022-08-14", "2022-08-15"):
        run = defs.resolve_job_def("klines_job").execute_in_process(
            instance=instance, partition_key=f"{day}|{ETH.key}"
        )
        assert run.success
    studies = defs.resolve_job_def("studies_job").get_subset(
        asset_selection={dg.AssetKey("sma_study"), dg.AssetKey("band_touch_study")}
    )
    assert studies.execute_in_process(instance=instance, partition_key=ETH.key).success
    return Store(str(tmp_path / "data"))


@pytest.mark.slow
def test_live_legs_match_the_marks_of_the_last_candle(eth_store: Store) -> None:
    now = live_signals(eth_store, ETH)
    assert now is not None
    marks = pd.read_parquet(eth_store.study_table_path("sma_study", "marks", ETH).path)
    legs = pd.read_parquet(eth_store.study_table_path("sma_study", "legs", ETH).path)
    last = marks[marks["open_time"] == marks["open_time"].max()].set_index("window")
    assert now.as_of == marks["open_time"].max()
    open_windows = {w for w, row in last.iterrows() if row["run_length"] > 0}
    assert {leg.window for leg in now.legs} == open_windows
    for leg in now.legs:
        row = last.loc[leg.window]
        assert leg.direction.value == row["direction"]
        assert leg.length == row["run_length"]
        assert leg.start == row["leg_start"]
        assert leg.history_legs == row["prior_legs"]
        reached = [flag.removeprefix("in_") for flag in MARK_FLAGS if row[flag]]
        assert list(leg.levels) == reached
        before = legs[
            (legs["window"] == leg.window)
            & (legs["direction"] == leg.direction.value)
            & (legs["end_time"] < leg.start)
        ]["length"].to_numpy()
        assert leg.survival == pytest.approx(np.mean(before >= leg.length))
    # The label of the last candle is the study's, with its forward returns beside it.
    per_candle = pd.read_parquet(
        eth_store.study_table_path("band_touch_study", "per_candle", ETH).path
    )
    label = per_candle["label"].iloc[-1]
    assert now.last.label is not None
    assert now.last.label.value == label
    assert now.last.forward["horizon"].tolist() == [1, 5, 20]
    assert now.line().startswith("ETHUSDT-1m at 2022-08-15 23:59:00: SMA")
