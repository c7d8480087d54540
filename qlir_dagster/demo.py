"""`qlir-demo`: qlir end to end, offline. Starts the local exchange with synthetic candles,
materializes a few series × days through Dagster (ranged runs, today's day partial), and prints
what was stored. `qlir-demo --ui` then opens the Dagster UI on the same settings and data, with
the same local exchange running for as long as the UI does."""

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

from qlir_core.errors import ConfigError, InvalidSeries
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_dagster.defs.binance.partitions import partition_key
from qlir_sim.process import running

SERIES = "BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1h"
# The console shows warnings and errors only; the full log of each run is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@contextmanager
def local_exchange(symbols: str, intervals: str, start: date, days: int) -> Iterator[str]:
    """Run `qlir-sim --synthetic` and yield its base URL."""
    with running(
        "--synthetic", "--symbols", symbols, "--intervals", intervals,
        "--start", start.isoformat(), "--days", str(days), "--seed", "7",
    ) as url:  # fmt: skip
        yield url


def _outcome(result: dg.ExecuteInProcessResult) -> str:
    return f"{result.run_id[:8]} {'succeeded' if result.success else 'FAILED'}"


def _instance() -> dg.DagsterInstance:
    _use_home()
    return dg.DagsterInstance.get()


def _use_home() -> None:
    """DAGSTER_HOME, or ./.dagster_home (as scripts/demo sets it), so the demo's runs show up in
    its UI and in `dagster dev` afterwards."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Path(".dagster_home").resolve()
        home.mkdir(exist_ok=True)
        if not (home / "dagster.yaml").exists() and Path("dagster.yaml").exists():
            shutil.copy("dagster.yaml", home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qlir-demo", description=__doc__)
    parser.add_argument("--series", default=SERIES, help="comma-separated series keys")
    parser.add_argument("--days", type=int, default=3, help="closed days before today")
    parser.add_argument(
        "--data-root", default="./data/demo", help="where to store (folder or s3://)"
    )
    parser.add_argument(
        "--ui", action="store_true", help="open the Dagster UI on the demo's settings and data"
    )
    parser.add_argument("--port", type=int, default=3000, help="the UI's port (with --ui)")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, InvalidSeries) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    today = datetime.now(UTC).date()
    series_keys = [s.strip() for s in args.series.split(",")]
    symbols = ",".join(dict.fromkeys(k.split("-")[0] for k in series_keys))
    intervals = ",".join(dict.fromkeys(k.split("-")[1] for k in series_keys))
    first = today - timedelta(days=args.days)
    if args.ui:
        # The days the demo stored, though it ran on an earlier day.
        first = min([first, *_stored_days(args.data_root, series_keys)])
    days = (today - first).days + 1

    env = {
        "QLIR_SERIES": args.series,
        "QLIR_START_DATE": first.isoformat(),
        "QLIR_DATA_ROOT": args.data_root,
        "QLIR_SOURCE": "auto",
    }
    config.load({**os.environ, **env})  # a bad option stops here, before the exchange starts
    with local_exchange(symbols, intervals, first, days) as url:
        print(f"local exchange at {url}")
        # Both sources at the local exchange: nothing the demo or its UI runs reaches Binance.
        env |= {"QLIR_BINANCE_REST_URL": url, "QLIR_BINANCE_ARCHIVE_URL": url}
        settings = config.load({**os.environ, **env})
        if args.ui:
            _use_home()
            return _browse(os.environ | env, args.port)
        if not _materialize(settings, first, today):
            return 1
    _print_stored(settings)
    return 0


def _materialize(settings: config.Settings, first: date, today: date) -> bool:
    """One ranged klines run per series, then its studies; False once a run fails."""
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
            return False
    return True


def _browse(env: dict[str, str], port: int) -> int:
    """`dagster dev` (webserver and daemon) with `env`, until it exits or Ctrl-C stops it."""
    print(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the local exchange)")
    dagster = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    # Dagster's CLI warns that `dagster dev` is superseded by `dg dev` before any qlir code runs;
    # `dg dev` would start it again through uv. Exactly that warning is silenced.
    quiet = "ignore:Function `dev_command` is superseded:FutureWarning"
    warnings = ",".join(filter(None, [env.get("PYTHONWARNINGS"), quiet]))
    process = subprocess.Popen(dagster, env=env | {"PYTHONWARNINGS": warnings})
    # SIGTERM (a service manager, `kill`) stops it as Ctrl-C does, so nothing outlives the demo.
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGINT))
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue  # the terminal sent SIGINT to dagster dev too; wait for it to stop


def _stored_days(data_root: str, series_keys: list[str]) -> list[date]:
    store = Store(data_root)
    return [day for key in series_keys for day in store.stored_days(Series.parse(key))]


def _print_stored(settings: config.Settings) -> None:
    store = Store(settings.data_root)
    print(f"\nstored under {store.root}:")
    for series in settings.series:
        for day in store.stored_days(series):
            rows = store.read_manifest(series, day) or []
            stored = store.read_candles(series, day)
            n = 0 if stored is None else len(stored)
            statuses = ",".join(sorted({f"{r.source.value}:{r.status.value}" for r in rows}))
            print(f"  {series.key:<12} {day}  {n:>5} candles  {len(rows):>2} requests  {statuses}")


if __name__ == "__main__":
    raise SystemExit(main())
