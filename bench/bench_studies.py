"""Benchmark the studies on one year of synthetic 1m candles (525,600 rows, a few gaps).

    uv run python bench/bench_studies.py [--rows N] [--repeat R]

Each study runs in its own subprocess so its peak memory is its own: the figures are the wall time
(time.perf_counter; first call and best of R), the study's own peak allocation (tracemalloc, which
numpy and pandas report to, in a separate call) and the subprocess's peak RSS (getrusage maxrss:
interpreter, libraries and the candle table included). Goals: ≤ 2 s and ≤ 1 GiB per study.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd

from qlir_core.candles import COLUMNS, TIME_DTYPE
from qlir_core.intervals import MINUTE_MS
from qlir_core.studies import BandTouchStudy, SmaStudy, band_touch_study, charts, sma_study

ROWS = 525_600  # one year of 1m candles
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
# (row before which the gap opens, minutes missing): a few gaps, like real exchange halts.
GAPS = ((50_000, 3), (123_456, 47), (300_000, 1), (410_000, 180), (500_000, 12))
GOAL_SECONDS = 2.0
GOAL_BYTES = 1 << 30


def synthetic_candles(rows: int = ROWS, seed: int = 7) -> pd.DataFrame:
    """A geometric random walk with open = previous close, and the gaps in GAPS."""
    rng = np.random.default_rng(seed)
    steps = np.ones(rows, dtype=np.int64)
    for before, missing in GAPS:
        if before < rows:
            steps[before] += missing
    open_ms = START_MS + (np.cumsum(steps) - 1) * MINUTE_MS
    close = 40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 6e-4, rows)))
    open_ = np.concatenate(([40_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 4e-4, (2, rows)))
    volume = rng.gamma(2.0, 5.0, rows)
    table = {
        "open_time": open_ms,
        "open": open_,
        "high": np.maximum(open_, close) * (1 + wick[0]),
        "low": np.minimum(open_, close) * (1 - wick[1]),
        "close": close,
        "volume": volume,
        "close_time": open_ms + MINUTE_MS - 1,
        "quote_volume": volume * close,
        "trades": rng.integers(10, 2_000, rows),
        "taker_buy_base_volume": volume / 2,
        "taker_buy_quote_volume": volume * close / 2,
    }
    frame = pd.DataFrame(table, columns=list(COLUMNS))
    for column in ("open_time", "close_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True).astype(TIME_DTYPE)
    return frame


def _studies() -> dict[str, Callable[[pd.DataFrame], object]]:
    def sma(candles: pd.DataFrame) -> SmaStudy:
        return sma_study(candles, series="SYNTH-1m", interval_ms=MINUTE_MS)

    def bands(candles: pd.DataFrame) -> BandTouchStudy:
        return band_touch_study(candles, series="SYNTH-1m", interval_ms=MINUTE_MS)

    return {
        "sma (14, 50, 200)": sma,
        "band_touch (20, 2)": bands,
        "sma + survival chart": lambda c: charts.sma_survival_png(sma(c).survival),
        "band_touch + both charts": lambda c: _band_charts(bands(c)),
    }


def _band_charts(study: BandTouchStudy) -> tuple[bytes, bytes]:
    return charts.band_shares_png(study.labels), charts.band_daily_png(study.daily)


def measure(name: str, rows: int, repeat: int) -> dict[str, float]:
    """Run one study: timings, then a tracemalloc pass; RSS is this process's peak."""
    study = _studies()[name]
    candles = synthetic_candles(rows)
    gc.collect()
    rss_before = _maxrss_bytes()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        study(candles)
        times.append(time.perf_counter() - started)
        gc.collect()
    tracemalloc.start()
    study(candles)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "first_s": times[0],
        "best_s": min(times),
        "traced_peak_bytes": float(peak),
        "rss_before_bytes": float(rss_before),
        "rss_peak_bytes": float(_maxrss_bytes()),
    }


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the per-study subprocess
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.rows, args.repeat)))
        return

    candles = synthetic_candles(args.rows)
    print(
        f"{len(candles):,} synthetic 1m candles, {len(GAPS)} gaps, "
        f"{candles.memory_usage(deep=True).sum() / 2**20:.0f} MiB as a table; "
        f"best of {args.repeat} runs, each study in its own process"
    )
    header = (
        f"{'study':26} {'first s':>8} {'best s':>8} {'traced MiB':>11} "
        f"{'RSS before':>11} {'RSS peak':>9}  goal"
    )
    print(header)
    print("-" * len(header))
    for name in _studies():
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                name,
                "--rows",
                str(args.rows),
                "--repeat",
                str(args.repeat),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        ok = r["first_s"] <= GOAL_SECONDS and r["rss_peak_bytes"] <= GOAL_BYTES
        print(
            f"{name:26} {r['first_s']:8.3f} {r['best_s']:8.3f} "
            f"{r['traced_peak_bytes'] / 2**20:11.1f} {r['rss_before_bytes'] / 2**20:11.0f} "
            f"{r['rss_peak_bytes'] / 2**20:9.0f}  "
            f"{'ok' if ok else 'MISSED'}"
        )
    print(
        "traced: the study's own peak allocation (tracemalloc). RSS (MiB): the whole process, "
        "before the study (Python, pandas, TA-Lib, matplotlib, the candle table) and at its peak."
    )


if __name__ == "__main__":
    main()
