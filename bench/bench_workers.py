"""Scale-out: the same backfill of 3 series × N days (1m candles, from qlir-sim) by 1 worker and
by 2 worker processes at once, on the production instance (deploy/dagster.yaml on a PostgreSQL
server) with the request-weight budget shared through Redis, both servers started here.

    .venv/bin/python bench/bench_workers.py [--days 120] [--source archive|rest]

A worker is one `dagster asset materialize` of a range (its own Dagster home and budget folder,
as on its own machine); 2 workers split the days in two. Reported: wall time from launch to the
last worker's end, the speed-up, and the exchange's request count, 429s and 418s.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qlir_core.series import Series  # noqa: E402
from qlir_core.storage import Store  # noqa: E402
from tests.deploy.dagster_cli import production_home  # noqa: E402
from tests.deploy.servers import postgres_server, redis_server  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FIRST = date(2024, 1, 1)


def exchange(days: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "qlir_sim.cli", "--synthetic", "--symbols", ",".join(SYMBOLS)]
    command += ["--start", FIRST.isoformat(), "--days", str(days + 1)]
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    return sim, sim.stdout.readline().strip()


def split(days: int, workers: int) -> list[tuple[date, date]]:
    """Consecutive boxes of days (all series each), as even as the days allow."""
    bounds = [round(i * days / workers) for i in range(workers + 1)]
    return [
        (FIRST + timedelta(days=a), FIRST + timedelta(days=b - 1))
        for a, b in itertools.pairwise(bounds)
    ]


def run(workers: int, args: argparse.Namespace, url: str, pg, redis_url: str) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"qlir-workers{workers}-"))
    db = pg.create_database(f"bench_{workers}_{int(time.time())}")
    series = [f"{s}-1m" for s in SYMBOLS]
    httpx.post(f"{url}/sim/reset").raise_for_status()
    procs = []
    started = time.perf_counter()
    for i, (first, last) in enumerate(split(args.days, workers)):
        env = os.environ | production_home(work / f"m{i}" / "home", db.env())
        env |= {
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": ",".join(series),
            "QLIR_START_DATE": FIRST.isoformat(),
            "QLIR_SOURCE": args.source,
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(work / "data"),
            "QLIR_BUDGET_DIR": str(work / f"m{i}" / "budget"),
            "QLIR_BUDGET_STORE": redis_url,
        }
        command = [sys.executable, "-m", "dagster", "asset", "materialize"]
        command += ["-m", "qlir_dagster.definitions", "--select", "klines"]
        command += ["--partition-range", f"{first}|{series[0]}...{last}|{series[-1]}"]
        procs.append(
            subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err.decode()[-3000:]}")
    seconds = time.perf_counter() - started
    stats = httpx.get(f"{url}/sim/stats").json()
    store = Store(str(work / "data"))
    stored = sum(len(store.stored_days(Series.parse(s))) for s in series)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "seconds": seconds,
        "partitions": stored,
        "requests": stats["rest_requests"],
        "429": stats["status_429"],
        "418": stats["status_418"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--source", choices=["archive", "rest"], default="archive")
    args = parser.parse_args()
    sim, url = exchange(args.days)
    try:
        with postgres_server() as pg, redis_server() as redis_url:
            results = {n: run(n, args, url, pg, redis_url) for n in (1, 2)}
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)
    print(f"\n3 series × {args.days} days of 1m candles ({args.source}), {os.cpu_count()} cores")
    print(f"{'workers':>8} {'seconds':>9} {'partitions':>11} {'requests':>9} {'429':>4} {'418':>4}")
    for n, r in results.items():
        print(
            f"{n:>8} {r['seconds']:>9.1f} {r['partitions']:>11.0f} {r['requests']:>9.0f} "
            f"{r['429']:>4.0f} {r['418']:>4.0f}"
        )
    print(f"speed-up with 2 workers: {results[1]['seconds'] / results[2]['seconds']:.2f}×")


if __name__ == "__main__":
    main()
