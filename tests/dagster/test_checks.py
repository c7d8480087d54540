"""The asset checks end to end: qlir-sim serves a day with a flaw; the check results, their
severities and tables, the run log and the partition metadata each show it."""

import logging
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from qlir_core import manifest
from qlir_core.binance import DAY_MS, day_start_ms
from qlir_core.series import Series
from qlir_core.storage import Store, table_bytes, write_atomic
from qlir_core.validation import CandleSchema, Rule, TableModel, rule_check, validate_store
from qlir_core.validation import partition as validation
from qlir_core.validation.schemas import OHLC_COLUMNS
from qlir_sim import Synthetic, serve
from tests.dagster.conftest import run_log, run_one

BTC = Series.parse("BTCUSDT-1m")
DAY = date(2024, 1, 2)
KEY = "2024-01-02|BTCUSDT-1m"


def market(**quirks) -> Synthetic:
    return Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=3, seed=11, **quirks)


def env(url: str, source: str) -> dict[str, str]:
    return {
        "QLIR_SERIES": "BTCUSDT-1m",
        "QLIR_START_DATE": "2024-01-01",
        "QLIR_SOURCE": source,
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
    }


def evaluations(result, partition=KEY) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.check_name: e for e in result.get_asset_check_evaluations() if e.partition == partition
    }


@pytest.mark.parametrize("source", ["archive", "rest"])
def test_an_exchange_halt_is_a_warning_and_the_day_is_stored(make_defs, tmp_path, source):
    with serve(market(halts=["2024-01-02T12:40/2024-01-02T14:00"])) as url:
        result = run_one(make_defs(**env(url, source)), KEY)
    assert result.success
    checks = evaluations(result)
    assert checks["completeness"].passed is False
    assert checks["completeness"].severity is dg.AssetCheckSeverity.WARN
    gaps = checks["completeness"].metadata["gaps"].value.records
    assert [
        (g.data["first_missing"], g.data["last_missing"], g.data["count"], g.data["cause"])
        for g in gaps
    ] == [("2024-01-02 12:40:00+00:00", "2024-01-02 13:59:00+00:00", "80", "exchange")]
    # every check is recorded on the partition, passes included
    assert {n: e.passed for n, e in checks.items()} == {
        "slice_parse": True,
        "slice_spacing": True,
        "candle_schema": True,
        "candle_spacing": True,
        "completeness": False,
    }
    assert evaluations(result, partition=None) == {}
    (materialization,) = result.get_asset_materialization_events()
    meta = materialization.materialization.metadata
    assert (
        meta["dagster/row_count"].value,
        meta["missing_exchange"].value,
        meta["gap_runs"].value,
    ) == (1360, 80, 1)
    assert (meta["violations_error"].value, meta["violations_warn"].value) == (0, 80)
    assert len(Store(str(tmp_path / "data")).read_candles(BTC, DAY)) == 1360


@pytest.mark.parametrize(
    ("corruption", "check", "rule"),
    [("misalign", "candle_spacing", Rule.MISALIGNED_OPEN)],
)
@pytest.mark.parametrize("source", ["archive", "rest"])
def test_corruption_is_an_error_and_leaves_the_stored_day_untouched(
    make_defs, tmp_path, instance, source, corruption, check, rule
):
    with serve(market()) as url:
        assert run_one(make_defs(**env(url, source)), KEY).success
    stored = Store(str(tmp_path / "data")).candles_path(BTC, DAY)
    before = stored.read_bytes()

    with serve(market(corrupt_days=[f"{corruption}:BTCUSDT-1m:2024-01-02"])) as url:
        result = run_one(make_defs(**env(url, source)), KEY, instance)
    assert not result.success
    failed = evaluations(result)[check]
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert failed.metadata["violations_per_rule"].value[rule.value] >= 1
    cases = failed.metadata["failure_cases"].value.records
    assert cases[0].data["rule"] == rule.value
    assert cases[0].data["day"] == "2024-01-02"
    assert cases[0].data["open_time"].startswith("2024-01-02 12:0")
    error = result.failure_data_for_node("klines").error.message
    assert KEY in error
    assert rule.name in error
    assert "kept" in error
    assert stored.read_bytes() == before
    warnings = run_log(instance, result.run_id, logging.WARNING)
    assert any(f"ERROR {rule.name} BTCUSDT-1m 2024-01-02: 1 violation(s)" in w for w in warnings)


def test_the_checks_only_job_fetches_nothing_and_fails_on_a_broken_manifest(
    make_defs, tmp_path, instance
):
    with serve(market()) as url:
        defs = make_defs(**env(url, "rest"))
        assert run_one(defs, KEY).success
    # The exchange is gone now: the checks-only job must not need it.
    checks_job = defs.resolve_job_def("klines_checks")
    clean = checks_job.execute_in_process(instance=instance, raise_on_error=False)
    assert clean.success
    per_partition = evaluations(clean)
    assert sorted(per_partition) == sorted(
        ["slice_parse", "slice_spacing", "candle_schema", "candle_spacing", "completeness"]
    )
    assert all(e.passed for e in per_partition.values())
    assert evaluations(clean, partition=None) == {}

    store = Store(str(tmp_path / "data"))
    rows = store.read_manifest(BTC, DAY)
    broken = [
        rows[0].__class__(
            **{**rows[0].__dict__, "url": "http://127.0.0.1/api/v3/klines?symbol=BTCUSDT"}
        ),
        *rows[1:],
    ]
    write_atomic(store.manifest_path(BTC, DAY), table_bytes(manifest.to_frame(broken)))
    dirty = checks_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not dirty.success
    failed = evaluations(dirty)["slice_parse"]
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    case = failed.metadata["failure_cases"].value.records[0].data
    assert case["slice_key"] == rows[0].slice_key
    assert case["rule"] in {"slice_url_parses", "slice_agrees"}
    assert {n for n, e in evaluations(dirty).items() if not e.passed} == {"slice_parse"}


@pytest.mark.parametrize("source", ["archive", "rest"])
def test_a_duplicated_candle_is_refused_at_the_fetch_and_the_stored_day_kept(
    make_defs, tmp_path, instance, source
):
    """A page with a candle twice is malformed: retried, then refused before validation (the
    checks-only job shows duplicates found in stored data, see test_cli)."""
    with serve(market()) as url:
        assert run_one(make_defs(**env(url, source)), KEY).success
    stored = Store(str(tmp_path / "data")).candles_path(BTC, DAY)
    before = stored.read_bytes()

    with serve(market(corrupt_days=["dup:BTCUSDT-1m:2024-01-02"])) as url:
        result = run_one(make_defs(**env(url, source)), KEY, instance)
    assert not result.success
    error = result.failure_data_for_node("klines").error.message
    assert KEY in error
    assert "sent twice" in error
    assert "2024-01-02T12:00" in error
    assert stored.read_bytes() == before
    assert any("sent twice" in m for m in run_log(instance, result.run_id, logging.ERROR))


def test_a_closed_day_the_exchange_now_serves_shorter_is_a_kept_correction(make_defs, tmp_path):
    """The exchange is right for closed days: a refetch that lost 80 candles is published as a
    correction, and the day as it was stored before stays readable."""
    with serve(market()) as url:
        assert run_one(make_defs(**env(url, "archive")), KEY).success
    store = Store(str(tmp_path / "data"))
    before = store.read_candles(BTC, DAY)
    with serve(market(halts=["2024-01-02T12:40/2024-01-02T14:00"])) as url:
        result = run_one(make_defs(**env(url, "archive")), KEY)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["publish"].value.startswith("publish (corrected: 1360 fetched, 1440 stored")
    assert metadata["dagster/row_count"].value == 1360
    assert len(store.read_candles(BTC, DAY)) == 1360
    old_version, _ = store.versions(BTC, DAY)
    pd.testing.assert_frame_equal(store.read_candles(BTC, DAY, version=old_version), before)


class PricedCandles(CandleSchema):
    """The candle model with one more check, declared once, here."""

    @rule_check(Rule.NON_NEGATIVE, *OHLC_COLUMNS)
    def positive_prices(cls, values):
        """prices are positive"""
        return values > 0


def test_a_check_added_to_the_candle_model_reaches_screen_cases_and_check_result(
    make_defs, tmp_path, instance, monkeypatch
):
    with serve(market()) as url:
        defs = make_defs(**env(url, "rest"))
        assert run_one(defs, KEY).success
    store = Store(str(tmp_path / "data"))
    table = store.read_candles(BTC, DAY)
    table.loc[720, "low"] = 0.0  # 12:00; still low <= open, close <= high
    write_atomic(store.candles_path(BTC, DAY), table_bytes(table))
    priced = TableModel(PricedCandles, structure=Rule.CANDLE_COLUMNS)

    # the screen is derived from the model: the new check is in it and flags the row's column
    assert validation.CANDLES.failing(table) == ()
    added = [c for c in priced.checks if c.check.name == "positive_prices"]
    assert [(c.rule, c.column) for c in added] == [(Rule.NON_NEGATIVE, c) for c in OHLC_COLUMNS]
    assert [(c.check.name, c.column) for c in priced.failing(table)] == [("positive_prices", "low")]

    monkeypatch.setattr(validation, "CANDLES", priced)
    # the failure-case table
    (report,) = validate_store(store, now_ms=day_start_ms(DAY) + 2 * DAY_MS)
    cases = report.failure_cases
    assert cases[["rule", "row", "column", "check", "value"]].values.tolist() == [
        ["non_negative", 720, "low", "prices are positive", "low=0.0"]
    ]
    # the check result, through the checks-only job
    result = defs.resolve_job_def("klines_checks").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    failed = evaluations(result)["candle_schema"]
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert failed.metadata["violations_per_rule"].value["non_negative"] == 1
    (case,) = failed.metadata["failure_cases"].value.records
    assert (case.data["rule"], case.data["row"], case.data["column"], case.data["check"]) == (
        "non_negative",
        "720",
        "low",
        "prices are positive",
    )
    assert case.data["open_time"] == "2024-01-02 12:00:00+00:00"
