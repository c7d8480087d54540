"""What Dagster records is what is stored: per-partition materializations as each partition is
stored, refused partitions recorded and not materialized, per-partition check status, the
partial current day, the column schema, true counts after a ban."""

import logging
from datetime import date, timedelta

import dagster as dg
import pytest

from qlir_core import pacing
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.validation import candle_columns
from qlir_dagster.defs.binance.checks import CHECKS, KLINES
from qlir_sim import Faults, Synthetic, serve
from tests.conftest import away_from_midnight
from tests.dagster.conftest import run_log, run_one

BTC = Series.parse("BTCUSDT-1m")


def market(**quirks) -> Synthetic:
    return Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=4, seed=11, **quirks)


def env(url: str, source: str = "archive") -> dict[str, str]:
    return {
        "QLIR_SERIES": "BTCUSDT-1m",
        "QLIR_START_DATE": "2024-01-01",
        "QLIR_SOURCE": source,
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
    }


def key(day: str) -> str:
    return f"{day}|BTCUSDT-1m"


def run_range(defs, first, last, instance) -> dg.ExecuteInProcessResult:
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    job = defs.resolve_job_def("klines_job")
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def check_status(instance: dg.DagsterInstance, defs, check: str) -> dict[str, str]:
    """Each partition's latest status of `check`, as the UI's partition view reads it."""
    check_key = dg.AssetCheckKey(KLINES, check)
    parts = defs.resolve_assets_def(KLINES).partitions_def
    state = instance.event_log_storage.get_asset_check_state([(check_key, parts)])[check_key]
    return {
        k: status.name
        for status, subset in state.subsets.items()
        for k in subset.subset_value.get_partition_keys()
    }


def test_a_refused_day_in_a_range_does_not_hide_the_stored_ones(make_defs, tmp_path, instance):
    corrupt = market(corrupt_days=["misalign:BTCUSDT-1m:2024-01-02"])
    with serve(corrupt) as url:
        defs = make_defs(**env(url))
        result = run_range(defs, key("2024-01-01"), key("2024-01-03"), instance)
    assert not result.success
    assert instance.get_materialized_partitions(KLINES) == {key("2024-01-01"), key("2024-01-03")}
    records = instance.fetch_materializations(KLINES, limit=100).records
    assert sorted(r.partition_key for r in records) == [key("2024-01-01"), key("2024-01-03")]
    store = Store(str(tmp_path / "data"))
    assert store.stored_days(BTC) == [date(2024, 1, 1), date(2024, 1, 3)]
    (observed,) = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type is dg.DagsterEventType.ASSET_OBSERVATION
    ]
    assert observed.partition == key("2024-01-02")
    assert "MISALIGNED_OPEN" in observed.metadata["not_stored"].value
    error = result.failure_data_for_node("klines").error.message
    assert "1 of 3 partitions were not stored" in error
    assert key("2024-01-02") in error
    # every processed partition has every check's result
    evaluated = {(e.partition, e.check_name) for e in result.get_asset_check_evaluations()}
    assert evaluated == {
        (key(d), c) for d in ("2024-01-01", "2024-01-02", "2024-01-03") for c in CHECKS
    }
    assert run_log(instance, result.run_id, logging.INFO).count("stored 2 of 3 partitions") == 1


def test_an_error_on_one_day_is_not_masked_by_a_later_pass_on_another(make_defs, instance):
    with serve(market(corrupt_days=["misalign:BTCUSDT-1m:2024-01-02"])) as url:
        defs = make_defs(**env(url))
        assert not run_one(defs, key("2024-01-02"), instance).success
        assert run_one(defs, key("2024-01-03"), instance).success
    status = check_status(instance, defs, "candle_spacing")
    assert status[key("2024-01-02")] == "FAILED"
    assert status[key("2024-01-03")] == "SUCCEEDED"


def test_the_checks_only_job_records_each_partition(make_defs, instance):
    with serve(market()) as url:
        defs = make_defs(**env(url))
        assert run_range(defs, key("2024-01-01"), key("2024-01-02"), instance).success
    checks_job = defs.resolve_job_def("klines_checks")
    result = checks_job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    evaluated = {
        (e.partition, e.check_name, e.passed) for e in result.get_asset_check_evaluations()
    }
    assert evaluated == {(key(d), c, True) for d in ("2024-01-01", "2024-01-02") for c in CHECKS}


def test_the_current_day_is_marked_partial(make_defs, tmp_path):
    # a few candles of today closed, and the day does not close during the test
    today = away_from_midnight(after=timedelta(minutes=3), before=timedelta(minutes=10)).date()
    live = Synthetic(["BTCUSDT"], ["1m"], today - timedelta(days=1), days=None, seed=5)
    with serve(live) as url:
        defs = make_defs(**(env(url, "rest") | {"QLIR_START_DATE": str(today - timedelta(days=1))}))
        result = run_one(defs, key(today.isoformat()))
        closed = run_one(defs, key((today - timedelta(days=1)).isoformat()))
    assert result.success
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["partial"].value is True
    assert event.materialization.description.startswith("partial day: ")
    assert 0 < meta["dagster/row_count"].value < 1440
    assert closed.success
    (event,) = closed.get_asset_materialization_events()
    assert event.materialization.metadata["partial"].value is False
    assert event.materialization.description == "stored: 1440 candles"


def test_a_kept_refetch_describes_the_stored_day(make_defs, tmp_path):
    """Today, fetched again while the exchange lost a stretch of it: the fetch has fewer candles
    and is not settled, so the stored candles stay, and the metadata describes them."""
    # the halt closed, and the day does not close during the test
    today = away_from_midnight(after=timedelta(minutes=6), before=timedelta(minutes=10)).date()
    start = today - timedelta(days=1)
    halt = f"{today}T00:01/{today}T00:04"
    stored_rows = None
    for quirks in ({}, {"halts": [halt]}):
        live = Synthetic(["BTCUSDT"], ["1m"], start, days=None, seed=5, **quirks)
        with serve(live) as url:
            defs = make_defs(**(env(url, "rest") | {"QLIR_START_DATE": str(start)}))
            result = run_one(defs, key(today.isoformat()))
        assert result.success
        if stored_rows is None:
            stored_rows = len(Store(str(tmp_path / "data")).read_candles(BTC, today))
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["publish"].value.startswith("keep the stored candles (fewer: ")
    assert meta["published"].value is False
    assert meta["dagster/row_count"].value == stored_rows
    assert (meta["missing_exchange"].value, meta["missing_fetch"].value) == (0, 0)
    assert len(Store(str(tmp_path / "data")).read_candles(BTC, today)) == stored_rows


def test_the_asset_shows_the_candle_columns(make_defs):
    spec = make_defs().resolve_assets_def(KLINES).specs_by_key[KLINES]
    schema = spec.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == [c.name for c in candle_columns()]


@pytest.mark.parametrize(
    ("workers", "refused"),
    [
        # One at a time: the first is refused, the other two never start.
        ("1", "1 of 3 partitions were not stored (2 not attempted after the ban):"),
        # All three under way when the ban comes: each is refused, and recorded as such.
        ("8", "3 of 3 partitions were not stored:"),
    ],
)
def test_a_ban_is_counted_truly(make_defs, instance, tmp_path, monkeypatch, workers, refused):
    monkeypatch.setattr(pacing, "default_folder", lambda: tmp_path / "budget")
    with serve(market(), faults=Faults(force_418=True)) as url:
        defs = make_defs(**env(url, "rest"), QLIR_FETCH_WORKERS=workers)
        result = run_range(defs, key("2024-01-01"), key("2024-01-03"), instance)
    assert not result.success
    assert instance.get_materialized_partitions(KLINES) == set()
    info = run_log(instance, result.run_id, logging.INFO)
    assert "stored 0 of 3 partitions" in info
    error = result.failure_data_for_node("klines").error.message
    assert refused in error
    # Every partition listed is refused for the ban (the 418's own reply says "banned" too).
    listed = [line for line in error.splitlines() if "|BTCUSDT-1m:" in line]
    assert listed
    assert all("banned" in line for line in listed), listed


def test_an_error_inside_a_ranged_run_is_the_day_s_check_status(make_defs, instance):
    with serve(market(corrupt_days=["misalign:BTCUSDT-1m:2024-01-02"])) as url:
        defs = make_defs(**env(url))
        assert not run_range(defs, key("2024-01-01"), key("2024-01-03"), instance).success
    status = check_status(instance, defs, "candle_spacing")
    assert status[key("2024-01-02")] == "FAILED"
    assert status[key("2024-01-01")] == status[key("2024-01-03")] == "SUCCEEDED"
