"""The README's analysis snippets: pyarrow and DuckDB read the stored real days directly."""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow.dataset as ds

from qlir_core.series import Series
from tests.cli.conftest import fill

ETH = Series.parse("ETHUSDT-1m")


def test_pyarrow_and_duckdb_read_the_dataset_with_pruning(project, mirror):
    days = [date(2022, 8, 14), date(2022, 8, 15)]
    fill(project / "data", ETH, days, archive=str(mirror), rest="http://127.0.0.1:9")

    klines = ds.dataset("data/klines", format="parquet", partitioning="hive")
    candles = klines.to_table(
        filter=(ds.field("symbol") == "ETHUSDT") & (ds.field("interval") == "1m"),
        columns=["open_time", "open", "high", "low", "close", "volume"],
    ).to_pandas()
    assert len(candles) == 2880
    assert candles["open_time"].is_monotonic_increasing

    per_day = duckdb.sql("""
        SELECT symbol, date, count(*) AS candles, min(low) AS low, max(high) AS high
        FROM read_parquet('data/klines/*/*/*/data.parquet', hive_partitioning = true)
        WHERE symbol = 'ETHUSDT' AND interval = '1m'
        GROUP BY ALL ORDER BY date
    """).df()
    assert per_day["candles"].tolist() == [1440, 1440]
    assert [str(d)[:10] for d in per_day["date"]] == ["2022-08-14", "2022-08-15"]
    assert per_day["low"].min() == candles["low"].min()
