"""Backfill speed: 3 series × N days of 1m candles from the local exchange's archive, as Dagster
ranged runs (`dagster asset materialize --partition-range`, one per series, with the shipped
dagster.yaml) beside the same work (fetch, validate, decide, publish) as a plain loop without
Dagster, one partition at a time and with the runs' concurrency.

    uv run python bench/bench_backfill.py [--days 365] [--latency-ms 0]

"run" is a run's own duration as Dagster records it (start to success, no process start);
"wall" includes starting the CLI.
"""

import argparse
import logging
import os
import subprocess
import tempfile
import time
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from qlir_core.ingest import SourceMode, Sources
from qlir_core.pipeline import ingest_partitions
from qlir_core.series import Series
from qlir_core.slices import days_between
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim.process import running

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
WORKERS = 8


def exchange(first: date, days: int, latency_ms: int) -> AbstractContextManager[str]:
    return running(
        "--synthetic", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--intervals", "1m",
        "--start", first.isoformat(), "--days", str(days), "--seed", "7",
        "--latency-ms", str(latency_ms),
    )  # fmt: skip


def run_seconds(home: Path) -> list[float]:
    """Each finished run's duration, as the instance recorded it."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return [
            r.end_time - r.start_time
            for r in instance.get_run_records()
            if r.start_time is not None and r.end_time is not None
        ]


def plain_loop(url: str, root: Path, first: date, last: date, workers: int) -> float:
    store = Store(str(root))
    log = logging.getLogger("bench")
    parts = [(Series.parse(k), d) for k in SERIES for d in days_between(first, last)]
    started = time.perf_counter()
    with RestClient(url) as rest, ArchiveClient(url) as archive:
        sources = Sources(SourceMode.ARCHIVE, rest, archive)
        for _ in ingest_partitions(parts, sources, store, workers=workers, log=log):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--workers", type=int, default=WORKERS, help="QLIR_FETCH_WORKERS")
    args = parser.parse_args()
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    n = len(SERIES) * args.days
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)  # the shipped dagster.yaml reads it
    with exchange(first, args.days + 1, args.latency_ms) as url:
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": ",".join(SERIES),
            "QLIR_START_DATE": first.isoformat(),
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(work / "dagster"),
            "QLIR_FETCH_WORKERS": str(args.workers),
        }
        subprocess.run(["dagster", "instance", "migrate"], env=env, check=True, capture_output=True)
        base = ["asset", "materialize", "-m", "qlir_dagster.definitions", "--select", "klines"]
        started = time.perf_counter()
        for key in SERIES:
            subprocess.run(
                ["dagster", *base, "--partition-range", f"{first}|{key}...{last}|{key}"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
        wall = time.perf_counter() - started
        run = sum(run_seconds(home))
        sequential = plain_loop(url, work / "plain-1", first, last, workers=1)
        concurrent = plain_loop(url, work / "plain-n", first, last, workers=args.workers)
    stored = sum(1 for _ in (work / "dagster" / "klines").rglob("data.parquet"))
    print(f"{n} partitions, latency {args.latency_ms} ms, {args.workers} workers")
    print(
        f"dagster ranged runs: run {run:.1f} s ({run / n * 1000:.1f} ms/partition), "
        f"wall {wall:.1f} s; partitions stored {stored}"
    )
    print(f"plain loop, 1 at a time: {sequential:.1f} s ({sequential / n * 1000:.1f} ms/partition)")
    print(
        f"plain loop, {args.workers} at a time: {concurrent:.1f} s "
        f"({concurrent / n * 1000:.1f} ms/partition)"
    )
    print(
        f"dagster run / plain 1 at a time = {run / sequential:.2f}; "
        f"dagster run / plain {args.workers} at a time = {run / concurrent:.2f}"
    )


if __name__ == "__main__":
    main()
