"""What validation costs a backfill: the same ranged run of a few hundred partitions with the
checks (validate before publish, per-partition check evaluations, run summaries) and with them
stubbed out, alternately, in one process.

    uv run python bench/bench_checks.py [--days 100]
"""

import argparse
import tempfile
import time
import warnings
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg

from qlir_core.series import Series
from qlir_core.validation import Summary
from qlir_core.validation.report import PartitionReport
from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from qlir_dagster.defs.binance import assets as klines_module
from qlir_dagster.defs.binance import checks
from qlir_dagster.defs.binance.partitions import partition_key
from qlir_sim import Synthetic, serve

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


@contextmanager
def without_checks():
    """Validation replaced by an empty passing report; no evaluations logged."""

    def passing(series, day, candles, manifest, *, now_ms):
        zero = Summary(len(candles), len(candles), 0, 0, 0, 0, 0, 0, 0, 0)
        return PartitionReport(series, day, (), (), zero)

    with (
        mock.patch.object(klines_module, "validate_partition", passing),
        mock.patch.object(checks, "evaluations", return_value=[]),
    ):
        yield


def backfill(url: str, root: Path, home: Path, first: date, last: date) -> float:
    env = {
        "QLIR_CONFIG": "/dev/null",
        "QLIR_SERIES": ",".join(SERIES),
        "QLIR_START_DATE": first.isoformat(),
        "QLIR_SOURCE": "archive",
        "QLIR_BINANCE_REST_URL": url,
        "QLIR_BINANCE_ARCHIVE_URL": url,
        "QLIR_DATA_ROOT": str(root),
    }
    job = build_defs(config.load(env)).resolve_job_def("klines_job")
    instance = dg.DagsterInstance.from_config(str(home))
    started = time.perf_counter()
    for key in SERIES:
        s = Series.parse(key)
        tags = {
            "dagster/asset_partition_range_start": partition_key(s, first),
            "dagster/asset_partition_range_end": partition_key(s, last),
        }
        assert job.execute_in_process(run_config=QUIET, instance=instance, tags=tags).success
    return time.perf_counter() - started


def main() -> None:
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-checks-"))
    home = work / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    market = Synthetic(["BTCUSDT", "ETHUSDT", "SOLUSDT"], ["1m"], first, days=args.days, seed=5)
    n = len(SERIES) * args.days
    with serve(market) as url:
        backfill(url, work / "warm", home, first, first)  # warm the exchange's zip cache
        backfill(url, work / "warm", home, first, last)
        timings: dict[str, list[float]] = {"with checks": [], "without checks": []}
        for r in range(args.rounds):
            timings["with checks"].append(backfill(url, work / f"on{r}", home, first, last))
            with without_checks():
                timings["without checks"].append(backfill(url, work / f"off{r}", home, first, last))
    for name, values in timings.items():
        print(
            f"{n} partitions {name}: "
            + ", ".join(f"{v:.1f} s" for v in values)
            + f" (best {min(values) / n * 1000:.1f} ms/partition)"
        )
    ratio = min(timings["with checks"]) / min(timings["without checks"])
    print(f"with/without = {ratio:.2f} (best of {args.rounds})")


if __name__ == "__main__":
    main()
