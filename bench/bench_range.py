"""Per-partition cost against the length of a ranged run: one series of 1m candles from the
local exchange's archive, a 30-day range beside a 5-year range, each one `dagster asset
materialize --partition-range` run on the shipped dagster.yaml.

    uv run python bench/bench_range.py [--short 30] [--long 1826]
"""

import argparse
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from qlir_sim.process import running

FIRST = date(2019, 1, 1)
KEY = "BTCUSDT-1m"


def ranged_run(days: int) -> float:
    """The run's own duration (start to success) as Dagster recorded it."""
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-"))
    home = work / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
    with running(
        "--synthetic", "--symbols", "BTCUSDT", "--intervals", "1m",
        "--start", FIRST.isoformat(), "--days", str(days + 1), "--seed", "7",
    ) as url:  # fmt: skip
        last = FIRST + timedelta(days=days - 1)
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "QLIR_CONFIG": "/dev/null",
            "QLIR_SERIES": KEY,
            "QLIR_START_DATE": FIRST.isoformat(),
            "QLIR_SOURCE": "archive",
            "QLIR_BINANCE_REST_URL": url,
            "QLIR_BINANCE_ARCHIVE_URL": url,
            "QLIR_DATA_ROOT": str(work / "data"),
        }
        subprocess.run(
            [sys.executable, "-m", "dagster", "instance", "migrate"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "materialize", "-m",
             "qlir_dagster.definitions", "--select", "klines",
             "--partition-range", f"{FIRST}|{KEY}...{last}|{KEY}"],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_run_records()
        assert run.start_time is not None
        assert run.end_time is not None
        return run.end_time - run.start_time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--short", type=int, default=30)
    parser.add_argument("--long", type=int, default=1826)
    args = parser.parse_args()
    per = {}
    for days in (args.short, args.long):
        seconds = ranged_run(days)
        per[days] = seconds / days * 1000
        print(f"{days} days in one run: {seconds:.1f} s, {per[days]:.1f} ms per partition")
    ratio = per[args.long] / per[args.short]
    print(f"per-partition cost, {args.long} / {args.short} days = {ratio:.2f}")


if __name__ == "__main__":
    main()
