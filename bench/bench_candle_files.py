"""How a candle day file is laid out: its size, the time to write it and the time to read it
back (every column, and the SMA study's five), for the layout `Store` writes (`candle_bytes`)
beside the ones it was chosen from, on the real 1m days of `../shared/data/binance/mirror`.
Each layout is timed in alternating rounds; medians.

    cd bench && uv run python bench_candle_files.py [--rounds 7]
"""

import argparse
import io
import statistics
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from qlir_core import candles
from qlir_core.storage import candle_arrow, candle_bytes

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance" / "mirror"
SMA = ["open_time", "open", "high", "low", "close"]
REPEAT = 20  # writes or reads of each day per round


def written(**options: object) -> Callable[[pa.Table], bytes]:
    def write(table: pa.Table) -> bytes:
        sink = io.BytesIO()
        pq.write_table(table, sink, **options)  # type: ignore[arg-type]
        return sink.getvalue()

    return write


def lean(table: pa.Table) -> pa.Table:
    return table


def with_pandas_schema(table: pa.Table) -> pa.Table:
    return pa.Table.from_pandas(table.to_pandas(), preserve_index=False)


PLAIN = {"use_dictionary": False, "store_schema": False}
# name: (the table as the layout writes it, prepared untimed; the timed write)
LAYOUTS: dict[str, tuple[Callable[[pa.Table], pa.Table], Callable[[pa.Table], bytes]]] = {
    "stored (candle_bytes: lz4, no dictionaries, parquet schema only)": (lean, candle_bytes),
    "zstd, dictionaries, pandas and Arrow schemas (before)": (
        with_pandas_schema,
        written(compression="zstd"),
    ),
    "zstd, no dictionaries": (lean, written(compression="zstd", **PLAIN)),
    "snappy, no dictionaries": (lean, written(compression="snappy", **PLAIN)),
    "uncompressed, no dictionaries": (lean, written(compression="none", **PLAIN)),
}
STORED = next(iter(LAYOUTS))


def days() -> list[pa.Table]:
    found = sorted(MIRROR.glob("data/spot/daily/klines/*/1m/*.zip"))
    if not found:
        raise SystemExit(f"no 1m day under {MIRROR}")
    tables = []
    for path in found:
        with zipfile.ZipFile(path) as archive:
            csv = archive.read(archive.namelist()[0])
        tables.append(candle_arrow(candles.from_csv(csv)))
    return tables


def read_back(data: bytes, columns: list[str] | None) -> pa.Table:
    return pq.ParquetFile(io.BytesIO(data)).read(columns=columns)


def timed(action: Callable[..., object], *args: object) -> float:
    """Milliseconds per call of `action(*args)`."""
    started = time.perf_counter()
    for _ in range(REPEAT):
        action(*args)
    return (time.perf_counter() - started) / REPEAT * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    tables = days()
    print(f"{len(tables)} real 1m days, {sum(t.num_rows for t in tables)} candles")
    measures = ("write", "read all", "read sma")
    times = {name: {m: [] for m in measures} for name in LAYOUTS}
    prepared = {name: [prepare(t) for t in tables] for name, (prepare, _) in LAYOUTS.items()}
    files = {name: [write(t) for t in prepared[name]] for name, (_, write) in LAYOUTS.items()}
    for _ in range(args.rounds):
        for name, (_, write) in LAYOUTS.items():
            for table, data in zip(prepared[name], files[name], strict=True):
                times[name]["write"].append(timed(write, table))
                times[name]["read all"].append(timed(read_back, data, None))
                times[name]["read sma"].append(timed(read_back, data, SMA))
    base = statistics.median(len(f) for f in files[STORED])
    for name in LAYOUTS:
        size = statistics.median(len(f) for f in files[name])
        figures = ", ".join(f"{m} {statistics.median(times[name][m]):.2f} ms" for m in measures)
        print(f"{name}: {size / 1000:.0f} KB ({size / base:.2f}×), {figures}")


if __name__ == "__main__":
    main()
