"""The studies' input read on S3: one year of one series' 1m candles (366 day files) in a bucket
of moto's server (its own process on 127.0.0.1), read three ways, every column and the SMA
study's columns, in alternating rounds; medians:
- "qlir": Store.scan_candles, which fetches the day files through s3fs a batch at a time;
- "pyarrow": one hive dataset on pyarrow's own S3 filesystem;
- "handles": one hive dataset on s3fs through pyarrow's fsspec handler, a file handle per day.

    cd bench && uv run python bench_s3_read.py [--rounds 5] [--latency-ms 20]

With --latency-ms every request crosses latency_proxy.py, which delays it like a network
round trip. moto is one Python process: without latency the figures say how much client and
server work each path costs, not how fast AWS is.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

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
    parser.add_argument("--latency-ms", type=float, default=0)
    args = parser.parse_args()
    port = free_port()
    moto = f"http://127.0.0.1:{port}"
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    endpoint = moto
    if args.latency_ms:
        proxied = free_port()
        endpoint = f"http://127.0.0.1:{proxied}"
        servers.append(
            subprocess.Popen([
                sys.executable, str(Path(__file__).with_name("latency_proxy.py")),
                "--port", str(proxied), "--upstream", str(port),
                "--latency-ms", str(args.latency_ms),
            ])
        )  # fmt: skip
    try:
        os.environ |= {
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
        }  # fmt: skip
        _listening(urlsplit(endpoint).port)
        # Filled straight through moto's port: only the reads cross the network.
        s3 = boto3.client("s3", endpoint_url=moto)
        for _ in range(100):
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # the server is still starting
                time.sleep(0.1)
        local = Store(tempfile.mkdtemp(prefix="qlir-bench-s3read-"))
        table = synthetic_candles()
        for day, rows in table.groupby(table["open_time"].dt.date, sort=True):
            local.publish(PartitionData(SERIES, day, rows.reset_index(drop=True), [], []))
        root = Path(str(local.root))
        for path in sorted((root / "klines").rglob("data.parquet")):
            s3.upload_file(str(path), BUCKET, f"store/{path.relative_to(root)}")
        store = Store(f"s3://{BUCKET}/store")
        native = pafs.S3FileSystem(endpoint_override=endpoint, region="us-east-1")
        prefix = f"{BUCKET}/store/klines/symbol={SERIES.symbol}/interval={SERIES.interval.value}"
        sma = ["open", "high", "low", "close"]
        handles = pafs.PyFileSystem(pafs.FSSpecHandler(store.root.fs))
        reads = {
            "qlir all": lambda: len(store.scan_candles(SERIES)),
            "pyarrow all": lambda: _dataset(native, prefix, None),
            "handles all": lambda: _dataset(handles, prefix, None),
            "qlir sma": lambda: len(store.scan_candles(SERIES, columns=sma)),
            "pyarrow sma": lambda: _dataset(native, prefix, ["open_time", *sma]),
            "handles sma": lambda: _dataset(handles, prefix, ["open_time", *sma]),
        }
        for read in reads.values():  # one untimed round: connections, caches, imports
            read()
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
            for other in ("pyarrow", "handles"):
                ratio = medians[f"qlir {cols}"] / medians[f"{other} {cols}"]
                print(f"qlir / {other}, {cols} columns = {ratio:.2f}")
    finally:
        for server in servers:
            server.terminate()
            server.wait()


def _listening(port: int | None) -> None:
    """Once something listens on `port` (10 s at most)."""
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _dataset(fs: pafs.FileSystem, prefix: str, columns: list[str] | None) -> int:
    dataset = ds.dataset(prefix, filesystem=fs, format="parquet", partitioning="hive")
    return int(dataset.to_table(columns=columns).to_pandas().shape[0])


if __name__ == "__main__":
    main()
