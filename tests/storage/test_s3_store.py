"""The Store on S3 (moto's server) behaves exactly as on a local folder: same keys, same bytes,
same tables, atomic replacement, hive datasets with partition pruning."""

import threading
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from pyarrow import fs as pafs

from qlir_core import storage
from qlir_core.errors import OperationalError, QlirError
from qlir_core.series import Series
from qlir_core.storage import KLINES, MANIFEST, PartitionData, Store, write_atomic
from qlir_sim import Synthetic

PREFIX = "qlir/data"


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def s3_objects(s3_client, bucket: str) -> dict[str, bytes]:
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX)
    return {
        o["Key"].removeprefix(f"{PREFIX}/"): s3_client.get_object(Bucket=bucket, Key=o["Key"])[
            "Body"
        ].read()
        for page in pages
        for o in page.get("Contents", [])
    }


def hive_table(source: str, filesystem: pafs.FileSystem | None = None) -> pa.Table:
    """A layer read the way any pyarrow/DuckDB/polars user would: hive partitioning, no qlir."""
    table = ds.dataset(source, filesystem=filesystem, format="parquet", partitioning="hive")
    result = table.to_table()
    keys = [(name, "ascending") for name in ("symbol", "interval", "date")]
    first = "open_time" if "open_time" in result.column_names else "slice_key"
    return result.sort_by([*keys, (first, "ascending")])


def native_s3(endpoint: str) -> pafs.S3FileSystem:
    """pyarrow's own S3 client (not fsspec): proves the bucket is readable by other tools."""
    return pafs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"), scheme="http", region="us-east-1"
    )


def test_publishing_the_mirror_gives_the_same_objects_and_tables_as_a_local_folder(
    bucket, s3_client, aws_env, mirror_parts, tmp_path
):
    on_s3, local = Store(f"s3://{bucket}/{PREFIX}"), Store(str(tmp_path))
    for part in mirror_parts:
        on_s3.publish(part)
        local.publish(part)

    objects = s3_objects(s3_client, bucket)
    assert objects == local_files(tmp_path)  # same keys, byte for byte
    # per partition: the version's zip, CHECKSUM, candles and manifest, and the current candles
    assert len(objects) == 5 * len(mirror_parts)

    from_s3 = hive_table(f"{bucket}/{PREFIX}/{KLINES}", native_s3(aws_env))
    from_disk = hive_table(str(tmp_path / KLINES))
    assert from_s3.num_rows == from_disk.num_rows > 0
    assert from_s3.equals(from_disk)
    for layer in (KLINES, MANIFEST):
        assert (
            on_s3.dataset(layer)
            .to_table()
            .sort_by("date")
            .equals(local.dataset(layer).to_table().sort_by("date"))
        )

    for part in mirror_parts:
        assert on_s3.read_candles(part.series, part.day).equals(part.candles)
        assert on_s3.read_manifest(part.series, part.day) == local.read_manifest(
            part.series, part.day
        )
        assert on_s3.stored_days(part.series) == local.stored_days(part.series)
        assert on_s3.scan_candles(part.series).equals(local.scan_candles(part.series))
    assert on_s3.read_candles(Series.parse("BTCUSDT-1m"), date(2020, 1, 1)) is None
    assert on_s3.stored_days(Series.parse("SOLUSDT-1m")) == []
    assert on_s3.scan_candles(Series.parse("SOLUSDT-1m")).empty


def test_an_empty_prefix_reads_as_an_empty_store(bucket):
    store = Store(f"s3://{bucket}/{PREFIX}")
    series = Series.parse("BTCUSDT-1h")
    assert store.stored_days(series) == []
    assert store.scan_candles(series).empty
    assert store.read_candles(series, date(2023, 1, 21)) is None
    with pytest.raises(FileNotFoundError):
        store.dataset(KLINES)


def test_a_scan_of_many_days_on_s3_reads_as_the_same_store_on_disk(bucket, tmp_path):
    """More days than the readers fetch at once (four readers, eight files each): every day
    once, in day order, all columns or some, on any days asked for."""
    series, first = Series.parse("BTCUSDT-1h"), date(2024, 3, 1)
    market = Synthetic(symbols=["BTCUSDT"], intervals=["1h"], start=first, days=45, seed=3)
    local, on_s3 = Store(str(tmp_path)), Store(f"s3://{bucket}/{PREFIX}")
    days = [first + timedelta(days=n) for n in range(45)]
    for day in reversed(days):  # stored in any order
        part = PartitionData(series, day, market.full_day(series, day), [], [])
        local.publish(part)
        on_s3.publish(part)
    scanned = on_s3.scan_candles(series)
    assert len(scanned) == 45 * 24
    assert scanned["open_time"].is_monotonic_increasing
    pd.testing.assert_frame_equal(scanned, local.scan_candles(series))
    some = [days[n] for n in (44, 3, 17, 40, 41, 0)]
    pd.testing.assert_frame_equal(
        on_s3.scan_candles(series, some, ["close"]), local.scan_candles(series, some, ["close"])
    )


def test_files_fetched_a_batch_at_a_time_come_each_with_its_own_bytes(bucket, s3_client):
    """Two full batches and a part of one, in order, each with its key's bytes; a file removed
    after the listing is named."""
    store = Store(f"s3://{bucket}/{PREFIX}")
    names = [f"{PREFIX}/file-{n:02}" for n in range(2 * storage._FETCH_BATCH + 1)]
    for n, name in enumerate(names):
        s3_client.put_object(Bucket=bucket, Key=name, Body=f"file {n};".encode() * (n + 1))
    keys = [f"{bucket}/{name}" for name in names]
    opened = [(key, source.read()) for key, source in storage._opened(store.root, keys)]
    stored = [s3_client.get_object(Bucket=bucket, Key=n)["Body"].read() for n in names]
    assert opened == list(zip(keys, stored, strict=True))
    s3_client.delete_object(Bucket=bucket, Key=names[-2])
    with pytest.raises(OperationalError, match=f"{keys[-2]} was removed"):
        list(storage._opened(store.root, keys))


def test_scans_prune_partitions_on_s3(bucket, s3_client, mirror_parts):
    """A filtered scan opens only the partitions it needs: a corrupt object in another day
    does not disturb it, while a full scan trips over it."""
    store = Store(f"s3://{bucket}/{PREFIX}")
    series = Series.parse("BTCUSDT-1h")
    parts = [p for p in mirror_parts if p.series == series]
    assert [p.day.isoformat() for p in parts] == ["2022-09-07", "2022-09-08", "2023-01-21"]
    for part in parts:
        store.publish(part)
    s3_client.put_object(
        Bucket=bucket,
        Key=store.candles_path(series, date(2022, 9, 8)).path.split("/", 1)[1],
        Body=b"not parquet at all",
    )
    wanted = [date(2022, 9, 7), date(2023, 1, 21)]
    scanned = store.scan_candles(series, wanted)
    assert len(scanned) == 48
    expected = pd.concat([store.read_candles(series, d) for d in wanted], ignore_index=True)
    assert scanned.equals(expected)
    with pytest.raises(pa.ArrowInvalid):
        store.scan_candles(series)


def test_no_staged_or_stray_keys_are_left_on_s3(bucket, keys, mirror_parts):
    store = Store(f"s3://{bucket}/{PREFIX}")
    store.check()
    for part in mirror_parts[:3]:
        store.publish(part)
        store.publish(part)  # idempotent: the same keys again
    stored = keys(bucket)
    assert len(stored) == 15  # 5 per partition: one version, whatever the repeats
    assert all("/." not in k and not k.endswith(".tmp") for k in stored)


def test_a_write_that_dies_mid_upload_leaves_the_previous_object(
    bucket, keys, cutting_proxy, mirror_parts
):
    part = mirror_parts[0]
    store = Store(f"s3://{bucket}/{PREFIX}")
    store.publish(part)
    before = keys(bucket)
    old = store.read_candles(part.series, part.day)

    proxy = cutting_proxy(100_000)
    once = {"retries": {"total_max_attempts": 1}}  # one cut upload is proof enough
    via_proxy = Store(f"s3://{bucket}/{PREFIX}", endpoint_url=proxy.url, config_kwargs=once)
    target = via_proxy.candles_path(part.series, part.day)
    with pytest.raises((OSError, QlirError)):
        write_atomic(target, b"N" * 1_000_000)
    assert proxy.cut >= 1  # the upload really was cut mid-body
    assert store.read_candles(part.series, part.day).equals(old)
    assert keys(bucket) == before
    assert store.scan_candles(part.series, [part.day]).equals(old)


def test_a_reader_sees_the_old_object_or_the_new_one_never_a_mix(bucket):
    store = Store(f"s3://{bucket}/{PREFIX}")
    target = store.root / "probe" / "data.bin"
    versions = [bytes([i]) * 3_000_000 for i in range(1, 4)]
    write_atomic(target, versions[0])
    seen: list[bytes] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            seen.append(target.fs.cat_file(target.path))

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for i in range(12):
            write_atomic(target, versions[i % 3])
    finally:
        done.set()
        reader.join()
    assert seen
    assert all(data in versions for data in seen)
