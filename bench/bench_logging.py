"""What logging and timing cost: one ranged run of 3 series × 30 days (REST, 2 requests a day)
through `dagster asset materialize` on the shipped dagster.yaml, with no log file
(QLIR_LOG_DIR=off), with the default profile's file (qlir-info) and with every DEBUG record in
it (qlir-debug). Variants alternate, each on a fresh data root; the median wall time and CPU
time (user + system of the run's process: less sensitive to other load on the machine) are
shown. Then the cost of one record through the JSON file handler, in this process, beside the
records a run writes once every request is logged (3 per partition of 2 requests).

    uv run python bench/bench_logging.py [--days 30] [--repeats 3]
"""

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from qlir_dagster.demo import local_exchange

SERIES = ["BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"]
VARIANTS = {
    "no file": {"QLIR_LOG_PROFILE": "qlir-info", "QLIR_LOG_DIR": "off"},
    "qlir-info file": {"QLIR_LOG_PROFILE": "qlir-info"},
    "qlir-debug file": {"QLIR_LOG_PROFILE": "qlir-debug"},
}


def run(env: dict[str, str], first: date, last: date) -> tuple[float, float]:
    """Wall and CPU seconds of one ranged run."""
    command = [sys.executable, "-m", "dagster", "asset", "materialize"]
    command += ["-m", "qlir_dagster.definitions", "--select", "klines", "--partition-range"]
    command += [f"{first}|{SERIES[0]}...{last}|{SERIES[-1]}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def record_cost(folder: Path, records: int = 20_000) -> tuple[float, float]:
    """Microseconds per DEBUG record with the file handler, and with none (level check only)."""
    from qlir_core import logs

    log = logs.logger("qlir_core.bench")
    extra = {"event": "request", "series": "BTCUSDT-1m", "day": "2024-01-01", "source": "rest"}
    extra |= {"path": "/api/v3/klines", "status": 200, "attempt": 1, "weight": 2, "bytes": 81234}
    costs = []
    for settings in (
        logs.LogSettings(logs.Profile.QLIR_DEBUG, folder),
        logs.LogSettings(logs.Profile.QLIR_INFO, file=False),
    ):
        logs.configure(settings, run_id="bench")
        started = time.perf_counter()
        for i in range(records):
            log.debug("GET %s -> %d", "/api/v3/klines", 200, extra=extra | {"duration_ms": i})
        costs.append((time.perf_counter() - started) / records * 1e6)
    logs.unconfigure()
    logging.getLogger().handlers.clear()
    return costs[0], costs[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    first = date(2024, 1, 1)
    last = first + timedelta(days=args.days - 1)
    work = Path(tempfile.mkdtemp(prefix="qlir-bench-logging-"))
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    lines: dict[str, int] = {}
    with local_exchange(",".join(s.split("-")[0] for s in SERIES), "1m", first, args.days) as url:
        for repeat in range(args.repeats):
            for name, variant in VARIANTS.items():
                root = work / f"{name.replace(' ', '-')}-{repeat}"
                home = root / "dagster_home"
                home.mkdir(parents=True)
                (home / "dagster.yaml").write_text(Path("dagster.yaml").read_text())
                env = (
                    os.environ
                    | {
                        "DAGSTER_HOME": str(home),
                        "QLIR_CONFIG": "/dev/null",
                        "QLIR_SERIES": ",".join(SERIES),
                        "QLIR_START_DATE": first.isoformat(),
                        "QLIR_SOURCE": "rest",
                        "QLIR_BINANCE_REST_URL": url,
                        "QLIR_BINANCE_ARCHIVE_URL": url,
                        "QLIR_DATA_ROOT": str(root / "data"),
                        "QLIR_BUDGET_DIR": str(root / "budget"),
                    }
                    | variant
                )
                times[name].append(run(env, first, last))
                files = list((home / "logs").glob("*.jsonl"))
                lines[name] = sum(len(f.read_text().splitlines()) for f in files)
    walls = {n: statistics.median(w for w, _ in v) for n, v in times.items()}
    cpus = {n: statistics.median(c for _, c in v) for n, v in times.items()}
    print(f"{len(SERIES)} series × {args.days} days, {args.repeats} runs each (medians)")
    for name, values in times.items():
        spread = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in values)
        print(
            f"  {name:16} wall {walls[name]:6.1f} s {_pct(walls[name], walls['no file'])}  "
            f"cpu {cpus[name]:6.1f} s {_pct(cpus[name], cpus['no file'])}  "
            f"{lines[name]:5} log lines  (wall/cpu: {spread})"
        )
    with_file, without = record_cost(work / "records")
    partitions = len(SERIES) * args.days
    estimate = partitions * 3 * with_file / 1e6
    print(
        f"one DEBUG record: {with_file:.1f} µs to the file, {without:.2f} µs when filtered out; "
        f"{partitions * 3} records (3 a partition) ≈ {estimate:.2f} s, "
        f"{estimate / cpus['no file'] * 100:.2f} % of a run's CPU time"
    )


def _pct(value: float, base: float) -> str:
    return f"({(value - base) / base * 100:+5.1f} %)"


if __name__ == "__main__":
    main()
