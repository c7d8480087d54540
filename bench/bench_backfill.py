"""Backfill speed: one partition from the CLI, and 3 series × N days of 1m candles from the
synthetic archive as Dagster ranged runs beside the same work as a plain loop without Dagster.

    uv run python bench/bench_backfill.py [--days 365]
"""

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from qlir_core.ingest import SourceMode, Sources, fetch_partition
from qlir_core.series import Series
from qlir_core.slices import days_between
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_dagster.demo import local_exchange

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]


def cli(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dagster", *args], env=env, check=True, capture_output=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())

    with local_exchange("BTCUSDT,ETHUSDT,SOLUSDT", "1m", first, args.days + 1) as url:
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": ",".join(SERIES),
            "QLIR_START_DATE": first.isoformat(),
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
        }
        base = ["asset", "materialize", "-m", "qlir_dagster.definitions", "--select", "klines"]

        env["QLIR_DATA_ROOT"] = str(work / "one")
        one = cli([*base, "--partition", f"{first}|BTCUSDT-1m"], env)
        print(f"one partition, CLI (process start included): {one:.1f} s")

        env["QLIR_DATA_ROOT"] = str(work / "dagster")
        started = time.perf_counter()
        for key in SERIES:
            cli([*base, "--partition-range", f"{first}|{key}...{last}|{key}"], env)
        ranged = time.perf_counter() - started
        n = len(SERIES) * args.days
        print(
            f"{n} partitions as {len(SERIES)} ranged CLI runs: {ranged:.1f} s "
            f"({ranged / n * 1000:.1f} ms/partition)"
        )

        store = Store(str(work / "plain"))
        log = logging.getLogger("bench")
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        started = time.perf_counter()
        with RestClient(url) as rest:
            sources = Sources(SourceMode.ARCHIVE, rest, ArchiveClient(url))
            for key in SERIES:
                for day in days_between(first, last):
                    store.publish(
                        fetch_partition(Series.parse(key), day, sources, now_ms=now_ms, log=log)
                    )
        plain = time.perf_counter() - started
        print(
            f"{n} partitions as a plain loop without Dagster: {plain:.1f} s "
            f"({plain / n * 1000:.1f} ms/partition); Dagster/plain = {ranged / plain:.2f}"
        )
    stored = sum(1 for _ in (work / "dagster" / "klines").rglob("data.parquet"))
    print(f"partitions stored by the ranged runs: {stored}")


if __name__ == "__main__":
    main()
