"""Event writes on the laptop instance: a real ranged run's events (one run over 3 series × N
days of 1m from the local exchange's archive) written again into a new home with Dagster's own
SQLite storage and into one with the shipped dagster.yaml, side by side in alternating rounds;
the milliseconds per event of each kind.

    PATH=$PWD/.venv/bin:$PATH uv run python bench/bench_event_log.py [--days 30] [--rounds 3]
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from bench_backfill import SERIES, cli_env, exchange
from dagster._core.events.log import EventLogEntry

STORAGES = {
    "dagster sqlite": "storage:\n  sqlite:\n    base_dir: {home}\n",
    "qlir (dagster.yaml)": Path("dagster.yaml").read_text(),
}


def run_events(work: Path, days: int) -> list[EventLogEntry]:
    """The events of one CLI run over the three series' first `days` days."""
    first = date(2024, 1, 1)
    last = first + timedelta(days=days - 1)
    home = work / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(STORAGES["qlir (dagster.yaml)"])
    with exchange(first, days + 1, latency_ms=0) as url:
        env = cli_env(url, home, work / "data", first)
        command = ["dagster", "asset", "materialize", "-m", "qlir_dagster.definitions"]
        command += ["--select", "klines", "--partition-range"]
        command += [f"{first}|{SERIES[0]}...{last}|{SERIES[-1]}"]
        subprocess.run(command, env=env, check=True, capture_output=True)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records()
        return list(instance.all_logs(record.dagster_run.run_id))


def per_kind_ms(yaml: str, events: list[EventLogEntry]) -> dict[str, float]:
    """Milliseconds per event of each kind, writing `events` into a new home of `yaml`."""
    seconds: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    with tempfile.TemporaryDirectory(prefix="qlir-bench-") as home:
        Path(home, "dagster.yaml").write_text(yaml.format(home=home))
        with dg.DagsterInstance.from_config(home) as instance:
            storage = instance.event_log_storage
            for event in events:
                kind = event.dagster_event_type.value if event.dagster_event_type else "log line"
                started = time.perf_counter()
                storage.store_event(event)
                seconds[kind] += time.perf_counter() - started
                counts[kind] += 1
    return {kind: seconds[kind] / counts[kind] * 1000 for kind in seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qlir-bench-") as work:
        events = run_events(Path(work), args.days)
    counts: dict[str, int] = defaultdict(int)
    for event in events:
        counts[event.dagster_event_type.value if event.dagster_event_type else "log line"] += 1
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in STORAGES}
    for _ in range(args.rounds):
        for name, yaml in STORAGES.items():
            rounds[name].append(per_kind_ms(yaml, events))
    print(f"{len(events)} events of one run over {len(SERIES)} series × {args.days} days")
    dagsters, ours = (
        {kind: statistics.median(r[kind] for r in rounds[name]) for kind in counts}
        for name in STORAGES
    )
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1] * dagsters[kv[0]]):
        print(
            f"{kind}: {n} events, dagster sqlite {dagsters[kind]:.2f} ms, "
            f"qlir {ours[kind]:.2f} ms per event ({dagsters[kind] / ours[kind]:.1f}×)"
        )
    total = {name: sum(counts[k] * ms[k] for k in counts) / 1000 for name, ms in
             (("dagster", dagsters), ("qlir", ours))}  # fmt: skip
    print(
        f"all events: dagster sqlite {total['dagster']:.2f} s, qlir {total['qlir']:.2f} s "
        f"({total['dagster'] / total['qlir']:.1f}×; medians of {args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()
