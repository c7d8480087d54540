"""The klines asset through Dagster into S3 (moto) stores exactly what a run into a local folder
stores, for one partition and for a ranged run."""

import time
from datetime import date

import dagster as dg
import pyarrow.dataset as ds
import pytest

from qlir_core.binance import Endpoint
from qlir_core.ingest import SourceMode
from qlir_core.series import Series
from qlir_core.storage import KLINES, MANIFEST, Store
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_dagster.defs.binance.assets import build_candles
from qlir_dagster.defs.binance.partitions import day_partitions, series_partitions
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource
from tests.conftest import shipped_instance
from tests.storage.conftest import SECRET_ACCESS_KEY

# Timing and per-run columns of the ledger; everything else must be equal.
VOLATILE = ("requested_at", "completed_at", "duration_ms", "persist_ms")
ETH = Series.parse("ETHUSDT-1m")
BTC = Series.parse("BTCUSDT-1h")


def materialize(
    mirror, root: str, *, key: str | None = None, first: str = "", last: str = "", **kwargs
):
    settings = config.load(
        {
            "QLIR_SERIES": "BTCUSDT-1h,ETHUSDT-1m",
            "QLIR_START_DATE": "2022-08-01",
            "QLIR_CONFIG": "/dev/null",
        }
    )
    tags = (
        {}
        if key
        else {
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        }
    )
    with shipped_instance() as instance:
        return dg.materialize(
            [
                build_candles(
                    Endpoint.KLINES,
                    settings.series_groups[0],
                    day_partitions(settings.start_date, series_partitions(settings.series)),
                )
            ],
            resources={
                "binance": BinanceResource(
                    source=SourceMode.ARCHIVE,
                    rest_url="http://127.0.0.1:9",
                    archive_url=str(mirror),
                ),
                "storage": StorageResource(root=root),
            },
            partition_key=key,
            tags=tags,
            instance=instance,
            **kwargs,
        )


def layer_table(store: Store, layer: str):
    table = store.dataset(layer).to_table()
    table = table.drop_columns([c for c in VOLATILE if c in table.column_names])
    order = "open_time" if layer == KLINES else "slice_key"
    return table.sort_by([("symbol", "ascending"), ("date", "ascending"), (order, "ascending")])


@pytest.mark.parametrize(
    "run",
    [
        pytest.param({"key": "2023-01-21|BTCUSDT-1h"}, id="one-partition"),
        pytest.param(
            {"first": "2022-08-14|ETHUSDT-1m", "last": "2022-08-15|ETHUSDT-1m"}, id="range"
        ),
    ],
)
def test_a_run_into_s3_stores_what_a_local_run_stores(bucket, mirror, tmp_path, run, caplog):
    s3_root, local_root = f"s3://{bucket}/qlir", str(tmp_path / "data")
    on_s3 = materialize(mirror, s3_root, **run)
    local = materialize(mirror, local_root, **run)
    assert on_s3.success
    assert local.success

    partitions = sorted(
        e.materialization.partition for e in on_s3.get_asset_materialization_events()
    )
    expected = [run["key"]] if "key" in run else [run["first"], run["last"]]
    assert partitions == expected

    s3_store, local_store = Store(s3_root), Store(local_root)
    for layer in (KLINES, MANIFEST):
        assert layer_table(s3_store, layer).equals(layer_table(local_store, layer))
    series = BTC if "key" in run else ETH
    days = s3_store.stored_days(series)
    assert days == local_store.stored_days(series)
    assert days == [date.fromisoformat(p.split("|")[0]) for p in expected]
    assert s3_store.scan_candles(series).equals(local_store.scan_candles(series))
    assert len(s3_store.scan_candles(series)) == len(days) * series.interval.per_day

    # Readable as a plain hive dataset by any pyarrow user, through the same s3fs filesystem.
    plain = ds.dataset(
        f"{bucket}/qlir/{KLINES}",
        filesystem=s3_store.root.fs,
        format="parquet",
        partitioning="hive",
    )
    assert plain.count_rows(filter=ds.field("symbol") == series.symbol) == len(days) * (
        series.interval.per_day
    )

    events = on_s3.all_events
    assert all(SECRET_ACCESS_KEY not in str(e) for e in events)
    assert SECRET_ACCESS_KEY not in caplog.text


def test_a_run_into_a_missing_bucket_fails_fast_and_says_which(aws_env, mirror):
    started = time.perf_counter()
    result = materialize(
        mirror, "s3://qlir-no-such-bucket/qlir", key="2023-01-21|BTCUSDT-1h", raise_on_error=False
    )
    assert not result.success
    assert time.perf_counter() - started < 15
    # the storage resource checks the root before any step runs
    (failure,) = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
    cause = failure.event_specific_data.error
    while cause.cls_name != "ConfigError" and cause.cause is not None:
        cause = cause.cause
    assert cause.cls_name == "ConfigError"
    message = cause.message
    assert "'qlir-no-such-bucket' does not exist" in message
    assert aws_env in message


def run_graph(mirror, root: str) -> None:
    """klines for two ETH days as one ranged run, then both studies, through the definitions."""
    defs = build_defs(
        config.load(
            {
                "QLIR_SERIES": "ETHUSDT-1m",
                "QLIR_START_DATE": "2022-08-01",
                "QLIR_SOURCE": "archive",
                "QLIR_BINANCE_ARCHIVE_URL": str(mirror),
                "QLIR_DATA_ROOT": root,
                "QLIR_CONFIG": "/dev/null",
            }
        )
    )
    tags = {
        "dagster/asset_partition_range_start": "2022-08-14|ETHUSDT-1m",
        "dagster/asset_partition_range_end": "2022-08-15|ETHUSDT-1m",
    }
    with shipped_instance() as instance:
        klines = defs.resolve_job_def("klines_job")
        assert klines.execute_in_process(instance=instance, tags=tags).success
        studies = defs.resolve_job_def("studies_job")
        assert studies.execute_in_process(instance=instance, partition_key="ETHUSDT-1m").success


def test_the_studies_in_a_bucket_equal_the_studies_in_a_folder(aws_env, bucket, mirror, tmp_path):
    run_graph(mirror, f"s3://{bucket}/qlir")
    run_graph(mirror, str(tmp_path / "local"))
    remote, local = Store(f"s3://{bucket}/qlir"), Store(str(tmp_path / "local"))
    for study, tables in {
        "sma_study": ("legs", "survival", "summary"),
        "band_touch_study": ("per_candle", "labels", "daily", "forward", "transitions"),
    }.items():
        read_remote = remote.read_study_tables(study, ETH)
        read_local = local.read_study_tables(study, ETH)
        assert set(tables) <= set(read_remote)
        assert sorted(read_remote) == sorted(read_local)
        for name in read_remote:
            assert read_remote[name].equals(read_local[name]), (study, name)
        chart = "survival.png" if study == "sma_study" else "label_shares.png"
        assert (remote.study_dir(study, ETH) / chart).read_bytes()[:4] == b"\x89PNG"
    assert layer_table(remote, KLINES).equals(layer_table(local, KLINES))
