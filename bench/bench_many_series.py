"""One series' reads in a store of many: a year of BTCUSDT-1m stored as 366 day partitions, then
`--other-series N` more series of the same days (links to the same files, candles and versions,
under made-up symbols). Side by side, in alternating rounds, each read of the one series through
its own folders and through the whole layer filtered to it:

- the candle dataset (`Store.candles_dataset(series)` against `candles_dataset()`, one day);
- the current ledgers (`Store.manifest_dataset(series=…)` against `manifest_dataset()`);
- the checks-only job's validation of one partition (`validate_store(series=…, days=…)`, which
  lists the series' folders, against the whole store's reports picked for that partition).

    cd bench && uv run python bench_many_series.py [--other-series 100] [--rounds 3]
"""

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow.dataset as ds
from bench_studies import synthetic_candles

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.validation import validate_store

SERIES = Series.parse("BTCUSDT-1m")
LATER = 4_102_444_800_000  # 2100-01-01: every stored day is closed


def link_other_series(root: Path, series: Series, count: int, layers: tuple[str, ...]) -> None:
    """`count` more series in the store at `root`: links to `series`' files in each layer,
    under made-up symbols."""
    for layer in layers:
        own = root / layer / f"symbol={series.symbol}"
        for n in range(count):
            shutil.copytree(own, own.with_name(f"symbol=X{n:04d}USDT"), copy_function=os.link)


def stored_year(prefix: str) -> tuple[Path, Store, list[date]]:
    """A new store holding a year of SERIES (bench_studies' synthetic candles), one partition
    per day: its root, the store and the days."""
    table = synthetic_candles()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    store = Store(str(root))
    by_day = table.groupby(table["open_time"].dt.date, sort=True)
    for day, rows in by_day:
        store.publish(PartitionData(SERIES, day, rows.reset_index(drop=True), [], []))
    return root, store, sorted(by_day.groups)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--other-series", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    root, store, days = stored_year("qlir-bench-many-")
    link_other_series(root, SERIES, args.other_series, ("klines", "versions"))
    files = sum(1 for _ in root.rglob("*.parquet"))
    print(f"{1 + args.other_series} series × {len(days)} days, {files} parquet files under {root}")

    one_day = days[len(days) // 2]
    where = (
        (ds.field("symbol") == SERIES.symbol)
        & (ds.field("interval") == SERIES.interval.value)
        & (ds.field("date") == one_day.isoformat())
    )

    def whole_checks() -> int:
        reports = validate_store(store, now_ms=LATER, days=[one_day])
        return sum(1 for r in reports if r.series == SERIES)

    reads: dict[str, tuple[Callable[[], int], Callable[[], int]]] = {
        "candles of one day": (
            lambda: store.candles_dataset(SERIES).to_table(filter=where).num_rows,
            lambda: store.candles_dataset().to_table(filter=where).num_rows,
        ),
        "current ledgers": (
            lambda: store.manifest_dataset(series=SERIES).count_rows(),
            lambda: store.manifest_dataset().count_rows(filter=where) or 1,
        ),
        "checks of one partition": (
            lambda: len(validate_store(store, now_ms=LATER, series=[SERIES], days=[one_day])),
            whole_checks,
        ),
    }
    times: dict[str, list[float]] = {f"{n} {w}": [] for n in reads for w in ("own", "whole")}
    for _ in range(args.rounds):
        for name, (own_read, whole_read) in reads.items():
            for way, read in (("own", own_read), ("whole", whole_read)):
                started = time.perf_counter()
                assert read() >= 0
                times[f"{name} {way}"].append(time.perf_counter() - started)
    for name in reads:
        own_s = statistics.median(times[f"{name} own"])
        whole_s = statistics.median(times[f"{name} whole"])
        print(f"{name}: its folders {own_s:.3f} s, the whole layer {whole_s:.3f} s "
              f"({whole_s / own_s:.1f}×)")  # fmt: skip


if __name__ == "__main__":
    main()
