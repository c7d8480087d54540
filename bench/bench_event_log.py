"""Event writes on the laptop instance: Dagster's SQLite storage beside qlir's (the shipped
dagster.yaml), side by side, N asset materializations each, in alternating rounds.

    uv run python bench/bench_event_log.py [--events 300] [--rounds 3]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg

STORAGES = {
    "dagster sqlite": "storage:\n  sqlite:\n    base_dir: {home}\n",
    "qlir LocalInstance": (
        "instance_class:\n  module: qlir_dagster.sqlite_storage\n  class: LocalInstance\n"
    ),
}


def per_event_ms(yaml: str, events: int) -> float:
    with tempfile.TemporaryDirectory(prefix="qlir-bench-") as home:
        Path(home, "dagster.yaml").write_text(yaml.format(home=home))
        with dg.DagsterInstance.from_config(home) as instance:
            key = dg.AssetKey("bench")
            instance.report_runless_asset_event(dg.AssetMaterialization(key))  # creates the DBs
            started = time.perf_counter()
            for i in range(events):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(key, partition=str(i), metadata={"i": i})
                )
            return (time.perf_counter() - started) / events * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in STORAGES}
    for _ in range(args.rounds):
        for name, yaml in STORAGES.items():
            times[name].append(per_event_ms(yaml, args.events))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, m in medians.items():
        print(
            f"{name}: {m:.2f} ms per materialization event (rounds: "
            + ", ".join(f"{t:.2f}" for t in times[name])
            + ")"
        )
    dagster_ms, qlir_ms = medians.values()
    print(f"ratio dagster/qlir: {dagster_ms / qlir_ms:.1f}")


if __name__ == "__main__":
    main()
