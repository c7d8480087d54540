"""The studies' input read: one year of one series' 1m candles stored as 366 day partitions,
read back as one hive dataset scan (Store.scan_candles), beside the studies on the same table.

    uv run python bench/bench_study_read.py
"""

import logging
import tempfile
import time

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
    for attempt in range(3):
        started = time.perf_counter()
        read = store.scan_candles(SERIES)
        seconds = time.perf_counter() - started
        print(f"scan_candles read {len(read)} rows in {seconds:.2f} s (attempt {attempt + 1})")
    assert read.equals(table)
    for study in registered():
        started = time.perf_counter()
        study.run(read, SERIES)
        seconds = time.perf_counter() - started
        print(f"{study.name} (charts included) on the read table: {seconds:.2f} s")


if __name__ == "__main__":
    main()
