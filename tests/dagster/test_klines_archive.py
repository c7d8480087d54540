"""The klines asset through Dagster, reading the real archive files from a local folder."""

import hashlib
import shutil
import zipfile
from datetime import date

import pandas as pd
import pytest

from qlir_core import candles
from qlir_core.manifest import SliceStatus, Source
from qlir_core.series import Series
from qlir_core.storage import Store
from tests.conftest import SHARED_DATA, files_under, mirror_days
from tests.dagster.conftest import run_one, run_range

MIRROR_DAYS = mirror_days(SHARED_DATA / "mirror") if SHARED_DATA.is_dir() else []


def archive_csv(mirror, series_key, day) -> pd.DataFrame:
    symbol, interval = series_key.split("-")
    name = f"{symbol}-{interval}-{day}"
    with zipfile.ZipFile(mirror / f"data/spot/daily/klines/{symbol}/{interval}/{name}.zip") as z:
        return candles.from_csv(z.read(f"{name}.csv"))


@pytest.mark.parametrize(("series_key", "day"), MIRROR_DAYS)
def test_every_mirror_day_is_stored_exactly(mirror, make_defs, tmp_path, series_key, day):
    defs = make_defs(
        QLIR_SERIES=series_key,
        QLIR_START_DATE="2022-08-01",
        QLIR_SOURCE="archive",
        QLIR_BINANCE_ARCHIVE_URL=str(mirror),
    )
    result = run_one(defs, f"{day}|{series_key}")
    assert result.success
    store = Store(str(tmp_path / "data"))
    series, d = Series.parse(series_key), date.fromisoformat(day)
    pd.testing.assert_frame_equal(
        store.read_candles(series, d), archive_csv(mirror, series_key, day)
    )
    (row,) = store.read_manifest(series, d)
    assert (row.source, row.status, row.n_candles) == (
        Source.ARCHIVE,
        SliceStatus.COMPLETE,
        series.interval.per_day,
    )
    raw = {p.name for p in store.raw_dir(series, d).iterdir()}
    assert raw == {f"{row.slice_id}.zip", f"{row.slice_id}.zip.CHECKSUM"}


def test_a_range_is_one_run_writing_each_partition(mirror, make_defs, tmp_path):
    defs = make_defs(
        QLIR_SERIES="ETHUSDT-1m",
        QLIR_START_DATE="2022-08-01",
        QLIR_SOURCE="archive",
        QLIR_BINANCE_ARCHIVE_URL=str(mirror),
    )
    result = run_range(defs, "2022-08-14|ETHUSDT-1m", "2022-08-15|ETHUSDT-1m")
    assert result.success
    materialized = [e.materialization.partition for e in result.get_asset_materialization_events()]
    assert sorted(materialized) == ["2022-08-14|ETHUSDT-1m", "2022-08-15|ETHUSDT-1m"]
    store = Store(str(tmp_path / "data"))
    assert store.stored_days(Series.parse("ETHUSDT-1m")) == [date(2022, 8, 14), date(2022, 8, 15)]
    rows = store.scan_candles(Series.parse("ETHUSDT-1m"))
    assert len(rows) == 2880
    assert rows["open_time"].is_monotonic_increasing


def test_a_checksum_mismatch_fails_and_writes_nothing(mirror, make_defs, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(
        mirror / "data/spot/daily/klines/BTCUSDT/1h", archive / "data/spot/daily/klines/BTCUSDT/1h"
    )
    zip_path = archive / "data/spot/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2022-09-07.zip"
    (zip_path.parent / (zip_path.name + ".CHECKSUM")).write_text(
        hashlib.sha256(b"something else").hexdigest() + "  " + zip_path.name + "\n"
    )
    defs = make_defs(
        QLIR_SERIES="BTCUSDT-1h",
        QLIR_START_DATE="2022-09-01",
        QLIR_SOURCE="archive",
        QLIR_BINANCE_ARCHIVE_URL=str(archive),
    )
    result = run_one(defs, "2022-09-07|BTCUSDT-1h")
    assert not result.success
    failure = result.failure_data_for_node("klines").error.message
    assert "sha256" in failure
    assert "CHECKSUM" in failure
    assert "2022-09-07|BTCUSDT-1h" in failure
    assert files_under(tmp_path / "data") == []
