"""A metrics scrape of one series (`StoreCollector`, as `qlir metrics serve` computes it): a
year of BTCUSDT-1m stored as 366 day partitions, first alone, then with `--other-series N` more
series of the same days in the store (links to the same files, under made-up symbols). For each
store: the first scrape (every partition validated for its gaps) and the scrapes after it (the
partitions unchanged since are not read again), medians of `--rounds`.

    cd bench && uv run python bench_metrics.py [--other-series 100] [--rounds 3]
"""

import argparse
import logging
import statistics
import time
from datetime import date

from bench_many_series import LATER, SERIES, link_other_series, stored_year

from qlir_core.metrics import StoreCollector, exposition
from qlir_core.storage import Store


def scrapes(store: Store, start: date, rounds: int) -> tuple[float, float]:
    """The first scrape's seconds and the median of the `rounds` after it."""
    collector = StoreCollector(store, [SERIES], start, clock=lambda: LATER / 1000)
    started = time.perf_counter()
    exposition(collector)
    first = time.perf_counter() - started
    after = []
    for _ in range(rounds):
        started = time.perf_counter()
        exposition(collector)
        after.append(time.perf_counter() - started)
    return first, statistics.median(after)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--other-series", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    root, store, days = stored_year("qlir-bench-metrics-")
    start = days[0]
    alone = scrapes(store, start, args.rounds)
    link_other_series(root, SERIES, args.other_series, ("klines", "versions"))
    among = scrapes(store, start, args.rounds)
    print(f"one series × {len(days)} days; then {args.other_series} other series beside it")
    for name, (first, after) in (("alone", alone), (f"among {1 + args.other_series}", among)):
        print(f"{name}: first scrape {first:.2f} s, scrapes after it {after:.2f} s")


if __name__ == "__main__":
    main()
