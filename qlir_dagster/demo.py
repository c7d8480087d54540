"""`qlir-demo`: qlir end to end, offline. Starts the local exchange with synthetic candles,
materializes a few series × days through Dagster (ranged runs, today's day partial), and prints
what was stored."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from qlir_core.storage import Store
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_dagster.defs.binance.partitions import partition_key

SERIES = "BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1h"
# The console shows warnings and errors only; the full log of each run is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def local_exchange(symbols: str, intervals: str, start: date, days: int) -> Iterator[str]:
    """Run `qlir-sim --synthetic` and yield its base URL (the first line it prints)."""
    command = [
        sys.executable, "-m", "qlir_sim.cli", "--synthetic", "--symbols", symbols,
        "--intervals", intervals, "--start", start.isoformat(), "--days", str(days), "--seed", "7",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"qlir-sim did not start (printed {url!r})")
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _outcome(result: dg.ExecuteInProcessResult) -> str:
    return f"{result.run_id[:8]} {'succeeded' if result.success else 'FAILED'}"


def _instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME, or in ./.dagster_home (as scripts/demo sets it), so the
    demo's runs show up in `dagster dev` afterwards."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Path(".dagster_home").resolve()
        home.mkdir(exist_ok=True)
        if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
            shutil.copy("dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qlir-demo", description=__doc__)
    parser.add_argument("--series", default=SERIES, help="comma-separated series keys")
    parser.add_argument("--days", type=int, default=3, help="closed days before today")
    parser.add_argument(
        "--data-root", default="./data/demo", help="where to store (folder or s3://)"
    )
    args = parser.parse_args(argv)

    today = datetime.now(UTC).date()
    first = today - timedelta(days=args.days)
    series_keys = [s.strip() for s in args.series.split(",")]
    symbols = ",".join(dict.fromkeys(k.split("-")[0] for k in series_keys))
    intervals = ",".join(dict.fromkeys(k.split("-")[1] for k in series_keys))

    with local_exchange(symbols, intervals, first, args.days + 1) as url:
        print(f"local exchange at {url}")
        env = {
            "QLIR_SERIES": args.series,
            "QLIR_START_DATE": first.isoformat(),
            "QLIR_DATA_ROOT": args.data_root,
            "QLIR_SOURCE": "auto",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
        }
        settings = config.load({**os.environ, **env})
        defs = build_defs(settings)
        klines_job, studies_job = (
            defs.resolve_job_def("klines_job"),
            defs.resolve_job_def("studies_job"),
        )
        instance = _instance()
        for series in settings.series:
            tags = {
                "dagster/asset_partition_range_start": partition_key(series, first),
                "dagster/asset_partition_range_end": partition_key(series, today),
            }
            klines = klines_job.execute_in_process(
                run_config=QUIET, instance=instance, tags=tags, raise_on_error=False
            )
            studies = studies_job.execute_in_process(
                run_config=QUIET, instance=instance, partition_key=series.key, raise_on_error=False
            )
            print(f"{series}: klines run {_outcome(klines)}, studies run {_outcome(studies)}")
            if not (klines.success and studies.success):
                return 1

    store = Store(settings.data_root)
    print(f"\nstored under {store.root}:")
    for series in settings.series:
        for day in store.stored_days(series):
            rows = store.read_manifest(series, day) or []
            stored = store.read_candles(series, day)
            n = 0 if stored is None else len(stored)
            statuses = ",".join(sorted({f"{r.source.value}:{r.status.value}" for r in rows}))
            print(f"  {series.key:<12} {day}  {n:>5} candles  {len(rows):>2} requests  {statuses}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
