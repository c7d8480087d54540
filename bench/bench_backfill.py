"""Backfill speed: 3 series × N days of 1m candles from the local exchange's archive, as Dagster
ranged runs (`dagster asset materialize --partition-range`, with the shipped dagster.yaml),
beside the same work (fetch, validate, decide, publish) as a plain loop without Dagster, one
partition at a time and with the runs' concurrency. The runs:
- one run for the three series (`first|BTCUSDT-1m...last|SOLUSDT-1m`), in worker processes
  (`QLIR_FETCH_PROCESSES`, default 2);
- one run per series, one after another: in worker processes, and all in the run's process (0);
- one run per series, launched at once (as from three shells).

    uv run python bench/bench_backfill.py [--days 365] [--latency-ms 0] [--processes 2]

"run" is a run's own duration as Dagster records it (start to success, no process start);
"wall" includes starting the CLI.
"""

import argparse
import enum
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


class Launch(enum.Enum):
    ONE_RUN = "one run for the three series"
    ONE_AFTER_ANOTHER = "one run per series, one after another"
    AT_ONCE = "one run per series, the three launched at once"


def exchange(first: date, days: int, latency_ms: int) -> AbstractContextManager[str]:
    return running(
        "--synthetic", "--symbols", "BTCUSDT,ETHUSDT,SOLUSDT", "--intervals", "1m",
        "--start", first.isoformat(), "--days", str(days), "--seed", "7",
        "--latency-ms", str(latency_ms),
    )  # fmt: skip


def cli_env(url: str, home: Path, data: Path, first: date, **settings: str) -> dict[str, str]:
    """The environment of a CLI run over SERIES from `first`, from the exchange at `url`'s
    archive, in the Dagster home `home`, storing under `data`."""
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "QLIR_CONFIG": "/dev/null",
        "QLIR_SERIES": ",".join(SERIES),
        "QLIR_START_DATE": first.isoformat(),
        "QLIR_SOURCE": "archive",
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
        "QLIR_DATA_ROOT": str(data),
        **settings,
    }


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
    parser.add_argument("--processes", type=int, default=2, help="QLIR_FETCH_PROCESSES")
    args = parser.parse_args()
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    n = len(SERIES) * args.days
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    cases = [
        (Launch.ONE_RUN, args.processes),
        (Launch.ONE_AFTER_ANOTHER, args.processes),
        (Launch.ONE_AFTER_ANOTHER, 0),
        (Launch.AT_ONCE, args.processes),
    ]
    runs: dict[tuple[Launch, int], tuple[float, float]] = {}
    with exchange(first, args.days + 1, args.latency_ms) as url:
        # The exchange builds each day's zip once and keeps it: every day is fetched once
        # before anything is timed, so no run pays for building them (Binance's own CPU).
        plain_loop(url, work / "warm-up", first, last, workers=args.workers)
        for launch, processes in cases:
            folder = work / f"{launch.name.lower()}-{processes}"
            runs[launch, processes] = ranged_runs(url, folder, first, last, args, processes, launch)
            stored = sum(1 for _ in (folder / "data").rglob("data.parquet"))
            assert stored == n, f"{launch.value}: {stored} of {n} partitions stored"
        sequential = plain_loop(url, work / "plain-1", first, last, workers=1)
        concurrent = plain_loop(url, work / "plain-n", first, last, workers=args.workers)
    print(f"{n} partitions, latency {args.latency_ms} ms, {args.workers} workers")
    for (launch, processes), (run, wall) in runs.items():
        print(
            f"dagster, {launch.value}, {processes} worker processes: wall {wall:.1f} s "
            f"(/ plain 1 at a time = {wall / sequential:.2f}, "
            f"/ plain {args.workers} at a time = {wall / concurrent:.2f}); "
            f"runs' own seconds summed {run:.1f} s ({run / n * 1000:.1f} ms/partition, "
            f"/ plain 1 at a time = {run / sequential:.2f})"
        )
    print(f"plain loop, 1 at a time: {sequential:.1f} s ({sequential / n * 1000:.1f} ms/partition)")
    print(
        f"plain loop, {args.workers} at a time: {concurrent:.1f} s "
        f"({concurrent / n * 1000:.1f} ms/partition)"
    )


def ranged_runs(
    url: str,
    work: Path,
    first: date,
    last: date,
    args: argparse.Namespace,
    processes: int,
    launch: Launch,
) -> tuple[float, float]:
    """The ranged CLI runs of `launch` in a new home: the runs' own seconds summed, and the
    wall time."""
    home = work / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    os.environ["DAGSTER_HOME"] = str(home)  # the shipped dagster.yaml reads it
    env = cli_env(
        url, home, work / "data", first,
        QLIR_FETCH_WORKERS=str(args.workers), QLIR_FETCH_PROCESSES=str(processes),
    )  # fmt: skip
    subprocess.run(["dagster", "instance", "migrate"], env=env, check=True, capture_output=True)
    base = ["asset", "materialize", "-m", "qlir_dagster.definitions", "--select", "klines"]
    ranges = (
        [f"{first}|{SERIES[0]}...{last}|{SERIES[-1]}"]  # every series, in configured order
        if launch is Launch.ONE_RUN
        else [f"{first}|{key}...{last}|{key}" for key in SERIES]
    )
    commands = [["dagster", *base, "--partition-range", r] for r in ranges]
    started = time.perf_counter()
    if launch is Launch.AT_ONCE:  # as from three shells
        logs = [(work / f"run-{n}.log").open("w") for n in range(len(commands))]
        launched = [
            subprocess.Popen(c, env=env, stdout=log, stderr=subprocess.STDOUT)
            for c, log in zip(commands, logs, strict=True)
        ]
        failed = [log.name for p, log in zip(launched, logs, strict=True) if p.wait() != 0]
        assert not failed, f"runs failed, see {failed}"
    else:
        for command in commands:
            subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    return sum(run_seconds(home)), wall


if __name__ == "__main__":
    main()
