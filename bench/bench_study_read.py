"""The studies' input read: one year of one series' 1m candles stored as 366 day partitions,
read back by Store.scan_candles beside DuckDB's `read_parquet` of the same files (both to a
pandas table): every column, and the columns the SMA study reads (open_time and OHLC), each case
in its own rounds and each reader first in every other round; then the studies on the table.
`--other-series N` adds N more series to the store (links to the same day files, under made-up
symbols), as in a store of many series: the scan of one series should not notice them.

    cd bench && uv run python bench_study_read.py [--rounds 5] [--other-series 0]
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
from bench_many_series import link_other_series
from bench_studies import synthetic_candles

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.studies import registered
from qlir_core.studies.registry import Study

SERIES = Series.parse("BTCUSDT-1m")


def registered_study(name: str) -> Study:
    return {s.name: s for s in registered()}[name]


def main() -> None:
    logging.disable(logging.WARNING)
    table = synthetic_candles()
    root = tempfile.mkdtemp(prefix="qlir-bench-read-")
    store = Store(root)
    by_day = table.groupby(table["open_time"].dt.date, sort=True)
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--other-series", type=int, default=0)
    args = parser.parse_args()
    for day, rows in by_day:
        store.publish(PartitionData(SERIES, day, rows.reset_index(drop=True), [], []))
    print(f"stored {len(table)} candles as {by_day.ngroups} partitions under {root}")
    link_other_series(Path(root), SERIES, args.other_series, ("klines",))
    if args.other_series:
        print(f"and {args.other_series} other series of the same days (linked files)")
    files = f"{root}/klines/symbol={SERIES.symbol}/interval={SERIES.interval.value}/*/data.parquet"
    source = f"read_parquet('{files}', hive_partitioning = true)"
    sma = registered_study("sma_study").columns
    assert sma is not None
    ohlc = ["open_time", *sma]
    times: dict[str, list[float]] = {k: [] for k in ("all", "duckdb all", "sma", "duckdb sma")}
    readers = {
        "all": lambda: store.scan_candles(SERIES),
        "duckdb all": lambda: duckdb.sql(f"SELECT * EXCLUDE (date) FROM {source}").df(),
        "sma": lambda: store.scan_candles(SERIES, columns=sma),
        "duckdb sma": lambda: duckdb.sql(f"SELECT {', '.join(ohlc)} FROM {source}").df(),
    }
    # Each case's rounds apart from the other's, and each reader first in every other round:
    # a read that follows DuckDB's read of every column straight away is slower.
    for case in ("all", "sma"):
        pair = [case, f"duckdb {case}"]
        for round_ in range(args.rounds):
            for name in pair if round_ % 2 == 0 else reversed(pair):
                started = time.perf_counter()
                read = readers[name]()
                times[name].append(time.perf_counter() - started)
                assert len(read) == len(table)
                if name == "sma":
                    assert list(read.columns) == ohlc
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"{name}: median {medians[name]:.3f} s (" + ", ".join(f"{x:.3f}" for x in t) + ")")
    for name, label in (("all", "every column"), ("sma", "the SMA study's")):
        pairs = [a / b for a, b in zip(times[name], times[f"duckdb {name}"], strict=True)]
        print(
            f"scan_candles / duckdb, {label} = {medians[name] / medians[f'duckdb {name}']:.2f}"
            f" (round by round: median {statistics.median(pairs):.2f})"
        )
    print(f"the SMA study's columns / every column = {medians['sma'] / medians['all']:.2f}")
    assert store.scan_candles(SERIES).equals(table)
    for study in registered():
        started = time.perf_counter()
        study.run(store.scan_candles(SERIES, columns=study.columns), SERIES)
        seconds = time.perf_counter() - started
        print(f"{study.name} (charts included), its columns read and studied: {seconds:.2f} s")


if __name__ == "__main__":
    main()
