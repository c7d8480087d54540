"""Benchmark a ranged backfill into S3 (moto's server on 127.0.0.1) against a local folder.

    uv run python bench/bench_s3.py [--days 30] [--series BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1m]
                                    [--repeat 1] [--json]

The archive is synthetic (qlir_sim's deterministic candles, written as zips + CHECKSUMs into a
temporary folder), so both runs read the same bytes from disk and differ only in where they
store. Each run is one Dagster run over the whole range (`BackfillPolicy.single_run`), then one
`scan_candles` per series over every stored day. Figures are wall times (time.perf_counter), the
best of --repeat runs, each into a fresh bucket or folder. moto is a single Python process, so
its times say how much qlir adds per request, not how fast AWS is.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import uuid
import warnings
from datetime import date, timedelta
from pathlib import Path

import boto3
import dagster as dg
import s3fs
from moto.server import ThreadedMotoServer

from qlir_core.binance import Endpoint
from qlir_core.series import Series, parse_series_list
from qlir_core.sources.archive import day_path
from qlir_core.storage import KLINES, Store
from qlir_dagster import config
from qlir_dagster.defs.binance.assets import build_candles
from qlir_dagster.defs.binance.partitions import day_partitions, series_partitions
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource
from qlir_sim.synthetic import Synthetic

START = date(2024, 1, 1)
SERIES = "BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1m"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def write_archive(folder: Path, series: list[Series], days: int) -> int:
    """Zips and CHECKSUMs laid out like data.binance.vision; returns the bytes written."""
    market = Synthetic(
        sorted({s.symbol for s in series}), sorted({s.interval.value for s in series}), START, days
    )
    now_ms = int(time.time() * 1000)
    written = 0
    for one in series:
        for i in range(days):
            day = START + timedelta(days=i)
            target = folder / day_path(one, day)
            target.parent.mkdir(parents=True, exist_ok=True)
            data = market.archive_zip(one, day, now_ms)
            checksum = market.archive_checksum(one, day, now_ms)
            if data is None or checksum is None:
                raise SystemExit(f"qlir_sim made no archive file for {one} {day}")
            target.write_bytes(data)
            target.with_name(target.name + ".CHECKSUM").write_bytes(checksum)
            written += len(data) + len(checksum)
    return written


def backfill(archive: Path, root: str, series: list[Series], days: int) -> float:
    """Seconds for one ranged run of the klines asset over every series × day."""
    settings = config.load(
        {
            "QLIR_SERIES": ",".join(s.key for s in series),
            "QLIR_START_DATE": START.isoformat(),
            "QLIR_CONFIG": os.devnull,
        }
    )
    keys = sorted(s.key for s in series)
    last_day = START + timedelta(days=days - 1)
    started = time.perf_counter()
    result = dg.materialize(
        [
            build_candles(
                Endpoint.KLINES,
                settings.series_groups[0],
                day_partitions(settings.start_date, series_partitions(settings.series)),
            )
        ],
        resources={
            "binance": BinanceResource(
                source="archive", rest_url="http://127.0.0.1:9", archive_url=str(archive)
            ),
            "storage": StorageResource(root=root),
        },
        tags={
            "dagster/asset_partition_range_start": f"{START.isoformat()}|{keys[0]}",
            "dagster/asset_partition_range_end": f"{last_day.isoformat()}|{keys[-1]}",
        },
        instance=dg.DagsterInstance.ephemeral(),
        run_config=QUIET,
    )
    elapsed = time.perf_counter() - started
    stored = len(result.get_asset_materialization_events())
    if not result.success or stored != len(series) * days:
        raise SystemExit(
            f"backfill into {root} stored {stored} partitions, not {len(series) * days}"
        )
    return elapsed


def scan(root: str, series: list[Series], days: int) -> float:
    """Seconds to read every stored candle back, one dataset scan per series."""
    store = Store(root)
    started = time.perf_counter()
    rows = sum(len(store.scan_candles(s)) for s in series)
    elapsed = time.perf_counter() - started
    expected = sum(s.interval.per_day for s in series) * days
    if rows != expected:
        raise SystemExit(f"scan of {root} read {rows} candles, not {expected}")
    return elapsed


def stored_bytes(root: str) -> int:
    store = Store(root)
    return sum(store.root.fs.du(str(store.root / layer), total=True) for layer in (KLINES,))


def run(days: int, series: list[Series], repeat: int) -> dict[str, object]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_ENDPOINT_URL_S3=endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    s3fs.S3FileSystem.clear_instance_cache()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    figures: dict[str, list[float]] = {"local": [], "s3": [], "local_scan": [], "s3_scan": []}
    try:
        with tempfile.TemporaryDirectory(prefix="qlir-bench-s3-") as tmp:
            archive = Path(tmp) / "archive"
            started = time.perf_counter()
            archive_bytes = write_archive(archive, series, days)
            generate_s = time.perf_counter() - started
            # One partition into each first, so imports and first-use costs time neither run.
            client.create_bucket(Bucket="qlir-bench-warmup")
            backfill(archive, "s3://qlir-bench-warmup/qlir", series[:1], 1)
            backfill(archive, str(Path(tmp) / "warmup"), series[:1], 1)
            for i in range(repeat):
                local_root = str(Path(tmp) / f"data-{i}")
                bucket = f"qlir-bench-{uuid.uuid4().hex[:12]}"
                client.create_bucket(Bucket=bucket)
                s3_root = f"s3://{bucket}/qlir"
                figures["local"].append(backfill(archive, local_root, series, days))
                figures["s3"].append(backfill(archive, s3_root, series, days))
                figures["local_scan"].append(scan(local_root, series, days))
                figures["s3_scan"].append(scan(s3_root, series, days))
            klines_bytes = stored_bytes(s3_root)
            if klines_bytes != stored_bytes(local_root):
                raise SystemExit("the S3 and local candle layers differ in size")
    finally:
        server.stop()
    partitions = len(series) * days
    best = {name: min(values) for name, values in figures.items()}
    return {
        "partitions": partitions,
        "series": [s.key for s in series],
        "days": days,
        "repeat": repeat,
        "archive_mib": round(archive_bytes / 2**20, 1),
        "klines_mib": round(klines_bytes / 2**20, 1),
        "generate_s": round(generate_s, 2),
        "backfill_local_s": round(best["local"], 2),
        "backfill_s3_s": round(best["s3"], 2),
        "per_partition_local_ms": round(1000 * best["local"] / partitions, 1),
        "per_partition_s3_ms": round(1000 * best["s3"] / partitions, 1),
        "scan_local_s": round(best["local_scan"], 3),
        "scan_s3_s": round(best["s3_scan"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--series", default=SERIES)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    warnings.filterwarnings("ignore", category=dg.BetaWarning)  # backfill_policy is beta
    figures = run(args.days, parse_series_list(args.series), args.repeat)
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    n = figures["partitions"]
    print(
        f"{n} partitions ({figures['days']} days × {', '.join(figures['series'])}), "
        f"archive {figures['archive_mib']} MiB, candles stored {figures['klines_mib']} MiB "
        f"(best of {figures['repeat']})"
    )
    print(f"{'':24}{'local folder':>14}{'S3 (moto)':>14}")
    print(
        f"{'ranged backfill':24}{figures['backfill_local_s']:>13}s{figures['backfill_s3_s']:>13}s"
    )
    print(
        f"{'  per partition':24}{figures['per_partition_local_ms']:>12}ms"
        f"{figures['per_partition_s3_ms']:>12}ms"
    )
    print(f"{'scan_candles, all days':24}{figures['scan_local_s']:>13}s{figures['scan_s3_s']:>13}s")


if __name__ == "__main__":
    main()
