"""Through Dagster, on the shipped dagster.yaml: two refreshes of today's klines from qlir-sim,
with the open SMA2 up leg crossing its 10 % tail level between them, raise exactly one alert —
received by a webhook on 127.0.0.1 — and turn the `signals` check WARN; the automation requests
`signals` after each refresh, and a further run (or a fresh instance) does not alert again."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from qlir_core.intervals import MINUTE_MS
from qlir_core.storage import Store
from qlir_core.studies.alerts import ALERTS_TABLE, SIGNALS
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_sim.process import running
from tests.conftest import away_from_midnight, shipped_home, shipped_instance
from tests.signals.conftest import (
    ETH,
    TAIL_10PCT,
    Receiver,
    candle_table,
    day_ms,
    designed_opens,
    write_mirror,
)

SERIES_ASSETS = ("sma_study", "band_touch_study", "signals")
RUN_CONFIG = {
    "ops": {"sma_study": {"config": {"windows": [2]}}, "signals": {"config": {"windows": [2]}}}
}


def exchange(mirror: Path) -> AbstractContextManager[str]:
    """`qlir-sim --mirror` in its own process; yields its base URL."""
    return running("--mirror", str(mirror))


def _defs(url: str, data_root: Path, webhook: str, start: str) -> dg.Definitions:
    return build_defs(
        config.load(
            {
                "QLIR_CONFIG": "/dev/null",
                "QLIR_SERIES": ETH.key,
                "QLIR_START_DATE": start,
                "QLIR_DATA_ROOT": str(data_root),
                "QLIR_BINANCE_REST_URL": url,
                "QLIR_BINANCE_ARCHIVE_URL": url,
                "QLIR_ALERT_WEBHOOK": webhook,
            }
        )
    )


def _klines(defs: dg.Definitions, instance: dg.DagsterInstance, day: str) -> None:
    result = defs.resolve_job_def("klines_job").execute_in_process(
        instance=instance, partition_key=f"{day}|{ETH.key}", raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]


def _requested(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: object
) -> tuple[set[str], object]:
    """The series assets the automation requests now, and the cursor for the next call."""
    evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    keys = {
        r.key.to_user_string()
        for r in evaluation.results
        if r.true_subset.size > 0 and r.key.to_user_string() in SERIES_ASSETS
    }
    return keys, evaluation.cursor


def _series_assets(
    defs: dg.Definitions, instance: dg.DagsterInstance, selection: tuple[str, ...]
) -> dg.AssetCheckEvaluation:
    """Run the selected series assets of ETHUSDT-1m; the `signals` alerts check's evaluation."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(name) for name in selection}
    )
    config = {"ops": {k: v for k, v in RUN_CONFIG["ops"].items() if k in selection}}
    result = job.execute_in_process(instance=instance, partition_key=ETH.key, run_config=config)
    (check,) = result.get_asset_check_evaluations()
    return check


@pytest.mark.slow
def test_two_refreshes_raise_one_alert(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # both refreshes are of the same day, which has a quarter of an hour of candles by then
    now = away_from_midnight(after=timedelta(minutes=15), before=timedelta(minutes=30))
    today = now.date()
    yesterday = today - timedelta(days=1)
    first = day_ms(yesterday)
    last_closed = int(now.timestamp() * 1000) // MINUTE_MS * MINUTE_MS - MINUTE_MS
    n = (last_closed - first) // MINUTE_MS + 1
    # The open leg starts 7 candles before the end: 3 candles old at the first refresh (below
    # the threshold of 6), 7 at the second.
    candles = candle_table(first, designed_opens(n, leg_start=n - 7))
    before = write_mirror(tmp_path / "mirror_before", candles.iloc[: n - 4])
    after = write_mirror(tmp_path / "mirror_after", candles)
    data_root = tmp_path / "data"
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the shipped dagster.yaml reads it
    instance = dg.DagsterInstance.from_config(str(shipped_home(home)))

    with exchange(before) as url:
        defs = _defs(url, data_root, receiver.url, yesterday.isoformat())
        _, cursor = _requested(defs, instance, None)
        _klines(defs, instance, yesterday.isoformat())
        _klines(defs, instance, today.isoformat())
        requested, cursor = _requested(defs, instance, cursor)
        assert "signals" in requested
        check = _series_assets(defs, instance, SERIES_ASSETS)
        # The sensor's next tick sees them materialized: nothing more to request.
        requested, cursor = _requested(defs, instance, cursor)
        assert "signals" not in requested
    assert check.passed
    assert receiver.bodies == []
    live = pd.read_parquet(Store(str(data_root)).study_table_path(SIGNALS, "live_legs", ETH).path)
    up = live[(live["window"] == 2) & (live["direction"] == "up")].iloc[0]
    assert up["length"] == 3 < TAIL_10PCT
    assert pd.isna(up["level"])

    with exchange(after) as url:
        defs = _defs(url, data_root, receiver.url, yesterday.isoformat())
        _klines(defs, instance, today.isoformat())
        requested, cursor = _requested(defs, instance, cursor)
        assert "signals" in requested
        check = _series_assets(defs, instance, SERIES_ASSETS)
        assert not check.passed
        assert check.severity is dg.AssetCheckSeverity.WARN
        (body,) = receiver.bodies
        assert body["text"] == "ETHUSDT-1m SMA2 up leg has lasted 7 candles: top 10 %"
        assert body["level"] == "tail_10pct"

        # The next refresh, and a fresh instance (a restart), find the alert already raised.
        _klines(defs, instance, today.isoformat())
        assert _series_assets(defs, instance, ("signals",)).passed
        with shipped_instance() as fresh:
            assert _series_assets(defs, fresh, ("signals",)).passed
    assert len(receiver.bodies) == 1
    stored = pd.read_parquet(
        Store(str(data_root)).study_table_path(SIGNALS, ALERTS_TABLE, ETH).path
    )
    assert stored["key"].str.endswith("|tail_10pct").sum() == 1
