"""The studies' input read on S3: one year of one series' 1m candles (366 day files) in a bucket
of moto's server (its own process on 127.0.0.1), scanned as one hive dataset through fsspec's
s3fs (what Store.scan_candles uses) and through pyarrow's own S3 filesystem, every column and
the SMA study's columns, in alternating rounds; medians.

    cd bench && uv run python bench_s3_read.py [--rounds 5]

moto is one Python process: the figures say how many requests and how much client work each
path costs, not how fast AWS is.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pyarrow.dataset as ds
from bench_studies import synthetic_candles
from pyarrow import fs as pafs

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store

SERIES = Series.parse("BTCUSDT-1m")
BUCKET = "qlir-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        os.environ |= {
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }  # fmt: skip
        for _ in range(100):
            try:
                boto3.client("s3").create_bucket(Bucket=BUCKET)
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        local = Store(tempfile.mkdtemp(prefix="qlir-bench-s3read-"))
        table = synthetic_candles()
        for day, rows in table.groupby(table["open_time"].dt.date, sort=True):
            local.publish(PartitionData(SERIES, day, rows.reset_index(drop=True), [], []))
        s3 = boto3.client("s3")
        root = Path(str(local.root))
        for path in sorted((root / "klines").rglob("data.parquet")):
            s3.upload_file(str(path), BUCKET, f"store/{path.relative_to(root)}")
        store = Store(f"s3://{BUCKET}/store")
        native = pafs.S3FileSystem(endpoint_override=endpoint, region="us-east-1")
        prefix = f"{BUCKET}/store/klines/symbol={SERIES.symbol}/interval={SERIES.interval.value}"
        sma = ["open", "high", "low", "close"]
        reads = {
            "s3fs all": lambda: len(store.scan_candles(SERIES)),
            "pyarrow all": lambda: _native(native, prefix, None),
            "s3fs sma": lambda: len(store.scan_candles(SERIES, columns=sma)),
            "pyarrow sma": lambda: _native(native, prefix, ["open_time", *sma]),
        }
        times: dict[str, list[float]] = {k: [] for k in reads}
        rows: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, read in reads.items():
                started = time.perf_counter()
                rows[name] = read()
                times[name].append(time.perf_counter() - started)
        assert len(set(rows.values())) == 1, rows
        medians = {k: statistics.median(v) for k, v in times.items()}
        for name, t in times.items():
            each = ", ".join(f"{x:.3f}" for x in t)
            print(f"{name}: median {medians[name]:.3f} s ({each})")
        for cols in ("all", "sma"):
            ratio = medians[f"s3fs {cols}"] / medians[f"pyarrow {cols}"]
            print(f"s3fs / pyarrow's S3, {cols} columns = {ratio:.2f}")
    finally:
        server.terminate()
        server.wait()


def _native(fs: pafs.S3FileSystem, prefix: str, columns: list[str] | None) -> int:
    dataset = ds.dataset(prefix, filesystem=fs, format="parquet", partitioning="hive")
    return int(dataset.to_table(columns=columns).to_pandas().shape[0])


if __name__ == "__main__":
    main()
