"""The study assets end to end through Dagster on the real mirror days."""

import dagster as dg
import pandas as pd
import pytest

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.studies import registered
from tests.conftest import shipped_instance
from tests.dagster.conftest import run_range

ETH = Series.parse("ETHUSDT-1m")


@pytest.fixture
def eth_two_days(mirror, make_defs, tmp_path):
    defs = make_defs(
        QLIR_SERIES="ETHUSDT-1m",
        QLIR_START_DATE="2022-08-01",
        QLIR_SOURCE="archive",
        QLIR_BINANCE_ARCHIVE_URL=str(mirror),
    )
    assert run_range(defs, "2022-08-14|ETHUSDT-1m", "2022-08-15|ETHUSDT-1m").success
    return defs, Store(str(tmp_path / "data"))


def materialize_study(defs, name, config=None):
    job = defs.resolve_job_def("studies_job").get_subset(asset_selection={dg.AssetKey(name)})
    run_config = {"ops": {name: {"config": config}}} if config else None
    with shipped_instance() as instance:
        return job.execute_in_process(
            instance=instance, partition_key="ETHUSDT-1m", run_config=run_config
        )


def test_every_registered_study_is_an_asset(eth_two_days):
    defs, _ = eth_two_days
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"klines", "sma_study", "band_touch_study"} <= keys
    assert {s.name for s in registered()} <= keys


def test_sma_study_over_both_days(eth_two_days):
    defs, store = eth_two_days
    result = materialize_study(defs, "sma_study")
    (event,) = result.get_asset_materialization_events()
    meta = event.materialization.metadata
    assert meta["candles"].value == 2880
    assert meta["chart_survival"].value.startswith("![survival](data:image/png;base64,")
    assert meta["w14_up_legs"].value > 0
    legs = pd.read_parquet(store.study_table_path("sma_study", "legs", ETH).path)
    # a leg that spans midnight between the two days is one leg, not two
    midnight = pd.Timestamp("2022-08-15", tz="UTC")
    assert ((legs["start_time"] < midnight) & (legs["end_time"] >= midnight)).any()
    assert (store.study_dir("sma_study", ETH) / "survival.png").read_bytes()[:4] == b"\x89PNG"
    summary = pd.read_parquet(store.study_table_path("sma_study", "summary", ETH).path)
    up14 = summary[(summary["window"] == 14) & (summary["direction"] == "up")].iloc[0]
    assert up14["legs"] == len(legs[(legs["window"] == 14) & (legs["direction"] == "up")])


def test_band_touch_study_with_configured_period(eth_two_days):
    defs, store = eth_two_days
    result = materialize_study(defs, "band_touch_study", {"period": 10})
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    shares = [v.value for k, v in meta.items() if k.startswith("share_")]
    assert sum(shares) == pytest.approx(1.0, abs=1e-5)
    assert "touch_all_h5_mean_bps" in meta or meta.get("share_touch_all", 0) == 0
    per_candle = pd.read_parquet(store.study_table_path("band_touch_study", "per_candle", ETH).path)
    # period 10: the first 9 candles have no bands, every later one exactly one label
    assert per_candle["label"].isna().sum() == 9
    assert per_candle["label"].notna().sum() == 2880 - 9


@pytest.mark.parametrize(
    ("study", "config", "message"),
    [
        ("sma_study", {"windowz": [5]}, 'unexpected config entry "windowz"'),
        ("sma_study", {"windows": 14}, r"root:ops:sma_study:config:windows must be list"),
        ("band_touch_study", {"period": "ten"}, r"root:ops:band_touch_study:config:period"),
    ],
    ids=["unknown-name", "not-a-list", "not-an-int"],
)
def test_a_wrong_study_parameter_is_refused_before_the_run(
    make_defs, instance, study, config, message
):
    """Run config is checked against each study's typed config, as the launchpad checks it."""
    job = make_defs(QLIR_SERIES="ETHUSDT-1m").resolve_job_def("studies_job")
    run_config = {"ops": {study: {"config": config}}}
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        dg.validate_run_config(job, run_config)
    with pytest.raises(dg.DagsterInvalidConfigError, match=message):
        job.execute_in_process(
            instance=instance,
            partition_key="ETHUSDT-1m",
            run_config=run_config,
        )


def test_the_launchpad_form_of_study_parameters_is_valid(make_defs):
    job = make_defs(QLIR_SERIES="ETHUSDT-1m").resolve_job_def("studies_job")
    config = {"ops": {"sma_study": {"config": {"windows": [14, 50], "price": "close"}}}}
    resolved = dg.validate_run_config(job, config)
    assert resolved["ops"]["sma_study"]["config"] == {
        "windows": [14, 50],
        "price": "close",
        "flat_tol": 1e-9,
    }


def test_new_klines_trigger_the_studies(eth_two_days, instance):
    defs, _ = eth_two_days
    before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert before.total_requested == 0
    run = defs.resolve_job_def("klines_job").execute_in_process(
        instance=instance, partition_key="2022-08-14|ETHUSDT-1m"
    )
    assert run.success
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
    requested = {
        (key.to_user_string(), pk)
        for key, subset in (
            (r.key, r.true_subset) for r in result.results if r.true_subset.size > 0
        )
        for pk in (akpk.partition_key for akpk in subset.expensively_compute_asset_partitions())
    }
    # every registered study, and the live signal, of that series
    expected = {(s.name, "ETHUSDT-1m") for s in registered()} | {("signals", "ETHUSDT-1m")}
    assert requested == expected
