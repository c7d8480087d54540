from __future__ import annotations

import multiprocessing
import subprocess
import sys
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qlir_core import candles, errors
from qlir_core.binance import Endpoint
from qlir_core.series import Series
from qlir_core.storage import PartitionData, RawPayload, Store, write_atomic
from qlir_core.versions import STAMP_KEY

ROW = "1674259200000,1.0,2.0,0.5,1.5,10.0,1674259259999,15.0,3,4.0,6.0,0\n"
SERIES = Series.parse("BTCUSDT-1m")
DAY = date(2023, 1, 21)


def day_candles(n: int) -> pd.DataFrame:
    """ROW's one candle, `n` days after DAY."""
    opens, closes = (str(ms + n * 86_400_000) for ms in (1674259200000, 1674259259999))
    return candles.from_csv(
        ROW.replace("1674259200000", opens).replace("1674259259999", closes).encode()
    )


def test_the_on_disk_path_of_one_partition(tmp_path):
    store = Store(str(tmp_path))
    stamp = store.publish(
        PartitionData(
            SERIES, DAY, candles.from_csv(ROW.encode()), [], [RawPayload("a.json", b"[]")]
        )
    )
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    version = "versions/symbol=BTCUSDT/interval=1m/date=2023-01-21/" + stamp.version
    assert stamp.version == "00000000T000000000Z-428eea1e72adeb43"  # no ledger rows: no time
    assert files == [
        "klines/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet",
        f"{version}/candles.parquet",
        f"{version}/manifest.parquet",
        f"{version}/raw/a.json",
    ]
    pd.testing.assert_frame_equal(store.read_candles(SERIES, DAY), candles.from_csv(ROW.encode()))
    assert store.stored_days(SERIES) == [DAY]
    assert store.read_candles(SERIES, date(2023, 1, 22)) is None
    assert store.stamp(SERIES, DAY) == stamp
    assert store.versions(SERIES, DAY) == [stamp.version]
    assert store.read_raw(SERIES, DAY) == [RawPayload("a.json", b"[]")]


def test_each_endpoint_is_a_dataset_of_its_own_under_one_root(tmp_path):
    ui = Store(str(tmp_path), endpoint=Endpoint.UIKLINES)
    klines = Store(str(tmp_path))
    part = PartitionData(SERIES, DAY, candles.from_csv(ROW.encode()), [], [RawPayload("a", b"")])
    stamp = ui.publish(part)
    with ui.locked(SERIES, DAY):
        pass
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    where = "symbol=BTCUSDT/interval=1m/date=2023-01-21"
    assert files == [
        f"uiklines/{where}/data.parquet",
        f"uiklines_locks/{where}.lock",
        f"uiklines_versions/{where}/{stamp.version}/candles.parquet",
        f"uiklines_versions/{where}/{stamp.version}/manifest.parquet",
        f"uiklines_versions/{where}/{stamp.version}/raw/a",
    ]
    assert ui.stored_days(SERIES) == [DAY]
    assert len(ui.candles_dataset().to_table()) == 1
    assert klines.stored_days(SERIES) == []
    assert klines.read_candles(SERIES, DAY) is None
    assert klines.scan_candles(SERIES).empty


def test_a_failed_write_leaves_the_previous_object(tmp_path):
    store = Store(str(tmp_path))
    target = store.root / "x" / "data.bin"
    write_atomic(target, b"old")

    class Boom(Exception):
        pass

    original = target.fs.mv

    def failing_mv(*args, **kwargs):
        raise Boom

    target.fs.mv = failing_mv
    try:
        write_atomic(target, b"new")
    except Boom:
        pass
    finally:
        target.fs.mv = original
    assert target.read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["data.bin"]


def test_qlir_core_does_not_import_dagster():
    code = "import sys, qlir_core.ingest, qlir_core.storage; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_stored_days_are_read_from_the_hive_paths_of_candle_tables(tmp_path):
    store = Store(str(tmp_path))
    later = date(2023, 1, 23)
    for day in (later, DAY):
        store.publish(PartitionData(SERIES, day, candles.from_csv(ROW.encode()), [], []))
    staged = tmp_path / "klines/symbol=BTCUSDT/interval=1m/date=2023-01-22/.data.parquet.1.tmp"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"")  # a write in progress is not a stored day
    assert store.stored_days(SERIES) == [DAY, later]


def test_a_scan_of_some_columns_reads_those_with_open_time_in_table_order(tmp_path):
    store = Store(str(tmp_path))
    for day in (DAY, date(2023, 1, 22)):
        table = candles.from_csv(ROW.encode())
        shift = pd.Timestamp(day, tz="UTC") - pd.Timestamp(DAY, tz="UTC")
        table[["open_time", "close_time"]] += shift
        store.publish(PartitionData(SERIES, day, table, [], []))
    every = store.scan_candles(SERIES)
    some = store.scan_candles(SERIES, columns=["close", "high"])
    assert list(some.columns) == ["open_time", "high", "close"]
    pd.testing.assert_frame_equal(some, every.loc[:, ["open_time", "high", "close"]])
    assert len(some) == 2
    nothing = Store(str(tmp_path / "empty")).scan_candles(SERIES, columns=["close"])
    assert list(nothing.columns) == ["open_time", "close"]
    assert nothing.empty


def test_a_scan_reads_only_its_own_series_and_the_days_asked_for(tmp_path):
    store = Store(str(tmp_path))
    days = [DAY, date(2023, 1, 22), date(2023, 1, 23)]
    others = [Series.parse("ETHUSDT-1m"), Series.parse("BTCUSDT-1h"), Series.parse("BTCUSDT-1s")]
    for n, day in enumerate(days):
        table = day_candles(n)
        for series in (SERIES, *others):
            priced = table.assign(close=table["close"] + len(str(series)))
            store.publish(PartitionData(series, day, priced, [], []))

    def stored(series: Series, on: list[date]) -> pd.DataFrame:
        tables = [store.read_candles(series, d) for d in on]
        return pd.concat(tables, ignore_index=True)

    pd.testing.assert_frame_equal(store.scan_candles(SERIES), stored(SERIES, days))
    asked = [days[2], days[0], date(2023, 2, 1)]  # any order; a day not stored adds nothing
    pd.testing.assert_frame_equal(
        store.scan_candles(SERIES, asked), stored(SERIES, [days[0], days[2]])
    )
    assert store.scan_candles(SERIES, []).empty
    assert store.scan_candles(Series.parse("SOLUSDT-1m")).empty


def test_day_files_written_with_pandas_and_arrow_schemas_read_beside_lean_ones(tmp_path):
    """Candle files carry the parquet schema alone; a store also holds files written with the
    pandas and Arrow schema copies and the stamp among the schema's metadata. Both kinds are
    scanned together and their stamps read."""
    store = Store(str(tmp_path))
    later = date(2023, 1, 22)
    first, second = day_candles(0), day_candles(1)
    store.publish(PartitionData(SERIES, DAY, first, [], []))
    stamp = store.publish(PartitionData(SERIES, later, second, [], []))
    lean = pq.ParquetFile(store.candles_path(SERIES, later).path)
    assert set(lean.metadata.metadata) == {STAMP_KEY}
    table = pa.Table.from_pandas(second, preserve_index=False)
    rich = table.replace_schema_metadata({**table.schema.metadata, STAMP_KEY: stamp.encode()})
    pq.write_table(rich, store.candles_path(SERIES, later).path, compression="zstd")
    assert b"pandas" in pq.ParquetFile(store.candles_path(SERIES, later).path).metadata.metadata
    assert store.stamp(SERIES, later) == stamp
    pd.testing.assert_frame_equal(store.read_candles(SERIES, later), second)
    both = pd.concat([first, second], ignore_index=True)
    pd.testing.assert_frame_equal(store.scan_candles(SERIES), both)
    pd.testing.assert_frame_equal(
        store.scan_candles(SERIES, columns=["close"]), both.loc[:, ["open_time", "close"]]
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stored=st.sets(st.integers(0, 12), max_size=13), asked=st.sets(st.integers(0, 14)))
def test_a_scan_of_any_days_is_their_tables_in_day_order(tmp_path_factory, stored, asked):
    """However many days there are for the scan's readers to share, the scan is the stored
    tables of the days asked for, one after the other in day order; folders that are not a
    day's are not read."""
    root = tmp_path_factory.mktemp("store")
    store = Store(str(root))
    tables = {}
    for n in sorted(stored):
        tables[n] = day_candles(n)
        store.publish(
            PartitionData(SERIES, date.fromordinal(DAY.toordinal() + n), tables[n], [], [])
        )
    for name in ("date=someday", "date=20230121"):  # not a folder name a store writes
        stray = store.series_dir(store.layout.candles, SERIES) / name / "data.parquet"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"not a table")
    days = [date.fromordinal(DAY.toordinal() + n) for n in asked]
    scanned = store.scan_candles(SERIES, days)
    expected = [tables[n] for n in sorted(asked & stored)]
    if expected:
        pd.testing.assert_frame_equal(scanned, pd.concat(expected, ignore_index=True))
    else:
        assert scanned.empty
    assert len(store.scan_candles(SERIES)) == len(stored)


def test_a_day_file_of_another_writer_scans_with_the_stores_types(tmp_path):
    """A day file written by another tool (pandas, times without a zone in microseconds) is
    scanned beside the store's own, as the store's types; one lacking a column asked for is
    named, not read as missing values."""
    store = Store(str(tmp_path))
    later = date(2023, 1, 22)
    first, second = day_candles(0), day_candles(1)
    store.publish(PartitionData(SERIES, DAY, first, [], []))
    store.publish(PartitionData(SERIES, later, second, [], []))
    naive = {
        c: second[c].dt.tz_localize(None).astype("datetime64[us]") for c in candles.TIME_COLUMNS
    }
    second.assign(**naive).to_parquet(store.candles_path(SERIES, later).path)
    both = pd.concat([first, second], ignore_index=True)
    pd.testing.assert_frame_equal(store.scan_candles(SERIES), both)
    pq.write_table(
        pa.Table.from_pandas(second.drop(columns=["close"])),
        store.candles_path(SERIES, later).path,
    )
    lacking = r"date=2023-01-22/data.parquet is not a candle table: it has no single flat column"
    with pytest.raises(errors.OperationalError, match=f"{lacking} close$"):
        store.scan_candles(SERIES, columns=["close"])
    pd.testing.assert_frame_equal(
        store.scan_candles(SERIES, columns=["high"]), both.loc[:, ["open_time", "high"]]
    )
    # A column twice is no candle column either: neither copy is taken for it.
    table = pa.Table.from_pandas(second, preserve_index=False)
    twice = table.append_column("high", table.column("low"))
    pq.write_table(twice, store.candles_path(SERIES, later).path)
    with pytest.raises(errors.OperationalError, match=f"{lacking} high$"):
        store.scan_candles(SERIES, columns=["high"])


def _scanned_rows(root: str, rows: multiprocessing.Queue[int]) -> None:
    rows.put(len(Store(root).scan_candles(SERIES)))


def test_a_process_forked_after_a_scan_scans_too(tmp_path):
    """The scans' readers are started once per process; a child forked from a process that has
    scanned (multiprocessing's fork, a prefork worker) must not wait on its parent's threads."""
    store = Store(str(tmp_path))
    for n in range(3):
        store.publish(PartitionData(SERIES, date(2023, 1, 21 + n), day_candles(n), [], []))
    assert len(store.scan_candles(SERIES)) == 3
    fork = multiprocessing.get_context("fork")
    rows: multiprocessing.Queue[int] = fork.Queue()
    child = fork.Process(target=_scanned_rows, args=(str(tmp_path), rows))
    child.start()
    try:
        assert rows.get(timeout=60) == 3
    finally:
        child.join(timeout=10)
        child.kill()
