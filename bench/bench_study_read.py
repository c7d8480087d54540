"""The studies' input read: one year of one series' 1m candles stored as 366 day partitions,
read back as one hive dataset scan (Store.scan_candles) beside DuckDB's `read_parquet` of the
same files (both to a pandas table), in alternating rounds; then the studies on the table.

    cd bench && uv run python bench_study_read.py [--rounds 5]
"""

import argparse
import logging
import statistics
import tempfile
import time

import duckdb
from bench_studies import synthetic_candles

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.studies import registered

SERIES = Series.parse("BTCUSDT-1m")


def main() -> None:
    logging.disable(logging.WARNING)
    table = synthetic_candles()
    root = tempfile.mkdtemp(prefix="qlir-bench-read-")
    store = Store(root)
    by_day = table.groupby(table["open_time"].dt.date, sort=True)
    for day, rows in by_day:
        store.publish(PartitionData(SERIES, day, rows.reset_index(drop=True), [], []))
    print(f"stored {len(table)} candles as {by_day.ngroups} partitions under {root}")
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    files = f"{root}/klines/symbol={SERIES.symbol}/interval={SERIES.interval.value}/*/data.parquet"
    query = f"SELECT * EXCLUDE (date) FROM read_parquet('{files}', hive_partitioning = true)"
    times: dict[str, list[float]] = {"scan_candles": [], "duckdb": []}
    for _ in range(args.rounds):
        started = time.perf_counter()
        read = store.scan_candles(SERIES)
        times["scan_candles"].append(time.perf_counter() - started)
        started = time.perf_counter()
        rows = len(duckdb.sql(query).df())
        times["duckdb"].append(time.perf_counter() - started)
        assert rows == len(read)
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name}: median {medians[name]:.3f} s (" + ", ".join(f"{x:.3f}" for x in t) + ")")
    print(f"scan_candles / duckdb = {medians['scan_candles'] / medians['duckdb']:.2f}")
    assert read.equals(table)
    for study in registered():
        started = time.perf_counter()
        study.run(read, SERIES)
        seconds = time.perf_counter() - started
        print(f"{study.name} (charts included) on the read table: {seconds:.2f} s")


if __name__ == "__main__":
    main()
