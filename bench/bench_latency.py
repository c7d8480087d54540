"""A real network's latency, hidden: the same Dagster ranged backfill from the local exchange's
archive with no latency and with `qlir-sim --latency-ms 80`, side by side; then a REST backfill
of 1s candles through the same partition pipeline against a low weight limit, for the share of
the budget used and the 429s and 418s.

    uv run python bench/bench_latency.py [--days 60] [--rounds 2] [--rest-days 2]
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx

from qlir_core import pacing
from qlir_core.ingest import SourceMode, Sources
from qlir_core.pipeline import Stored, ingest_partitions
from qlir_core.series import Series
from qlir_core.slices import days_between
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim.process import running

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FIRST = date(2024, 1, 1)
WORKERS = 8


def exchange(interval: str, days: int, *options: str) -> AbstractContextManager[str]:
    return running(
        "--synthetic", "--symbols", ",".join(SYMBOLS), "--intervals", interval,
        "--start", FIRST.isoformat(), "--days", str(days + 1), "--seed", "7", *options,
    )  # fmt: skip


def dagster_backfill(days: int, latency_ms: int) -> float:
    """Seconds of the ranged runs (one per series) as Dagster recorded them."""
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    home = work / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    last = FIRST + timedelta(days=days - 1)
    with exchange("1m", days, "--latency-ms", str(latency_ms)) as url:
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": ",".join(f"{s}-1m" for s in SYMBOLS),
            "QLIR_START_DATE": FIRST.isoformat(),
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(work / "data"),
            "QLIR_FETCH_WORKERS": str(WORKERS),
        }
        dagster = [sys.executable, "-m", "dagster"]
        for symbol in SYMBOLS:
            key = f"{symbol}-1m"
            subprocess.run(
                [*dagster, "asset", "materialize", "-m", "qlir_dagster.definitions",
                 "--select", "klines", "--partition-range", f"{FIRST}|{key}...{last}|{key}"],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records()
        return sum(r.end_time - r.start_time for r in runs if r.start_time and r.end_time)


def rest_backfill(days: int, limit: int, window_s: int) -> None:
    """1s candles by REST at 80 ms latency, the exchange's limit `limit` per `window_s`."""
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    pacing.default_folder = lambda: work / "budget"  # a budget of its own
    parts = [
        (Series.parse(f"{s}-1s"), d)
        for s in SYMBOLS
        for d in days_between(FIRST, FIRST + timedelta(days=days - 1))
    ]
    with exchange(
        "1s", days, "--latency-ms", "80", "--weight-limit", str(limit),
        "--window-seconds", str(window_s),
    ) as url:  # fmt: skip
        started = time.time()
        with RestClient(url) as rest, ArchiveClient(url) as archive:
            sources = Sources(SourceMode.REST, rest, archive)
            outcomes = list(
                ingest_partitions(
                    parts, sources, Store(str(work / "data")), workers=WORKERS,
                    log=logging.getLogger("bench"),
                )
            )  # fmt: skip
        ended = time.time()
        stats = httpx.get(f"{url}/sim/stats").json()
    windows = stats["weight"]["windows"]
    used = sum(w["used"] for w in windows)
    whole = [
        w["used"]
        for w in windows
        if w["start_ms"] / 1000 >= started and w["start_ms"] / 1000 + window_s <= ended
    ]
    stored = sum(isinstance(o, Stored) for o in outcomes)
    print(
        f"REST 1s, {len(parts)} partitions at 80 ms latency, limit {limit}/{window_s} s: "
        f"{ended - started:.1f} s, {stats['rest_requests']} requests, "
        f"{stats['status_429']} × 429, {stats['status_418']} × 418, "
        f"budget used {used / (limit * (ended - started) / window_s):.1%} over the whole run, "
        f"{sum(whole) / (limit * len(whole)) if whole else 0:.1%} over its whole windows; "
        f"{stored} of {len(parts)} partitions stored"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rest-days", type=int, default=4)
    # Under what qlir-sim serves on one core (about 13 pages of 1s candles a second here).
    parser.add_argument("--rest-limit", type=int, default=120, help="weight per 10 s")
    args = parser.parse_args()
    times: dict[int, list[float]] = {0: [], 80: []}
    for _ in range(args.rounds):
        for latency in times:
            times[latency].append(dagster_backfill(args.days, latency))
    medians = {latency: statistics.median(t) for latency, t in times.items()}
    for latency, t in times.items():
        print(
            f"archive, 3 × {args.days} days, latency {latency} ms: median {medians[latency]:.1f} s"
            " (" + ", ".join(f"{x:.1f}" for x in t) + ")"
        )
    print(f"80 ms / 0 ms = {medians[80] / medians[0]:.2f}")
    rest_backfill(args.rest_days, limit=args.rest_limit, window_s=10)


if __name__ == "__main__":
    main()
