"""A worker process's start, from a process whose main script imports Dagster's command line
(as a run's does): spawn imports the caller's main script in each new process unless
`worker_processes` keeps it from doing so. Seconds from `start()` until the new process has
imported the pipeline and exited, alternating rounds, medians.

    cd bench && uv run python bench_worker_start.py [--rounds 7]
"""

import argparse
import importlib
import multiprocessing
import statistics
import time
from contextlib import AbstractContextManager, nullcontext

import dagster._cli  # noqa: F401  what a run's main script imports

from qlir_core.worker_processes import _main_script_not_imported


def started(way: AbstractContextManager[None]) -> float:
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=importlib.import_module, args=("qlir_core.pipeline",))
    begun = time.perf_counter()
    with way:
        process.start()
    process.join()
    assert process.exitcode == 0
    return time.perf_counter() - begun


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"main script imported": [], "not imported": []}
    for _ in range(args.rounds):
        times["main script imported"].append(started(nullcontext()))
        times["not imported"].append(started(_main_script_not_imported()))
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.2f} s")
    print(
        f"not imported / imported = {medians['not imported'] / medians['main script imported']:.2f}"
    )


if __name__ == "__main__":
    main()
