"""Benchmark validating one partition: a 1m day (1440 rows) and a 1s day (86,400 rows).

    uv run python bench/bench_validation.py [--repeat R] [--store N]

Prints the wall time per partition (time.perf_counter; best and median of R calls) for clean
days over the archive (1 slice) and over REST (plan_day's slices), for a day that fails one rule
(pandera's lazy validation then builds the failure cases), and with --store for validate_store
over N stored 1m days (one scan per layer). Goal: a clean partition adds at most 20 % to the
20–40 ms a partition's fetch and publish take, so a 1m day should validate in a few ms.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from qlir_core import manifest
from qlir_core.candles import COLUMNS, TIME_DTYPE
from qlir_core.manifest import ManifestRow, Source
from qlir_core.series import Series
from qlir_core.slices import SliceKey, day_start_ms, plan_day, whole_day
from qlir_core.storage import PartitionData, Store
from qlir_core.validation import CandleSchema, Severity, validate_partition, validate_store

DAY = date(2023, 1, 21)
NOW = day_start_ms(DAY) + 400 * 86_400_000
MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data" / "binance" / "mirror"
BUDGET_MS = (20.0, 40.0)


def synthetic_day(series: Series, day: date, seed: int = 7) -> pd.DataFrame:
    """A random walk filling the whole day, one candle per interval."""
    rows = series.interval.per_day
    step = series.interval.ms
    rng = np.random.default_rng(seed)
    open_ms = day_start_ms(day) + np.arange(rows, dtype=np.int64) * step
    close = 20_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, rows)))
    open_ = np.concatenate(([20_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 1e-4, (2, rows)))
    volume = rng.gamma(2.0, 1.0, rows)
    table = pd.DataFrame(
        {
            "open_time": pd.to_datetime(open_ms, unit="ms", utc=True),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": volume,
            "close_time": pd.to_datetime(open_ms + step - 1, unit="ms", utc=True),
            "quote_volume": volume * close,
            "trades": rng.integers(1, 500, rows),
            "taker_buy_base_volume": volume / 2,
            "taker_buy_quote_volume": volume * close / 2,
        }
    )
    return table.loc[:, list(COLUMNS)].astype({"open_time": TIME_DTYPE, "close_time": TIME_DTYPE})


def ledger(windows: list[SliceKey], source: Source, table: pd.DataFrame) -> pd.DataFrame:
    """The manifest a successful fetch of `windows` writes, as ingest builds its rows."""
    opens = table["open_time"].astype("int64").to_numpy()
    at = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for w in windows:
        inside = opens[(opens >= w.start_ms) & (opens <= w.end_ms)]
        status, reason = manifest.classify(w, len(inside), NOW)
        s = w.series
        if source is Source.REST:
            url = (
                "https://data-api.binance.vision/api/v3/klines?"
                f"symbol={s.symbol}&interval={s.interval.value}&startTime={w.start_ms}"
                f"&endTime={w.end_ms}&limit={w.limit}"
            )
        else:
            url = (
                f"https://data.binance.vision/data/spot/daily/klines/{s.symbol}/{s.interval.value}/"
                f"{s.symbol}-{s.interval.value}-{DAY.isoformat()}.zip"
            )
        rows.append(
            ManifestRow(
                w.key, w.slice_id, source, url, w.start_ms, w.end_ms, w.limit, status, reason,
                200 if source is Source.REST else None, len(inside),
                int(inside[0]) if len(inside) else None, int(inside[-1]) if len(inside) else None,
                at, at, 1.0, 1000, None,
            )
        )  # fmt: skip
    return manifest.to_frame(rows)


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    call()  # warm-up: pandera builds its schema objects once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--store", type=int, default=0, help="also validate_store over N days")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    cases: list[tuple[str, Series, pd.DataFrame, pd.DataFrame]] = []
    for key in ("BTCUSDT-1m", "BTCUSDT-1s"):
        series = Series.parse(key)
        table = synthetic_day(series, DAY)
        origin = "synthetic"
        if key.endswith("1m") and MIRROR.is_dir():
            from qlir_core.sources.archive import ArchiveClient

            table = ArchiveClient(str(MIRROR)).fetch(series, DAY).candles
            origin = "real"
        archive = ledger([whole_day(series, DAY)], Source.ARCHIVE, table)
        rest = ledger(plan_day(series, DAY), Source.REST, table)
        cases.append((f"{key} {origin}, archive (1 slice)", series, table, archive))
        cases.append((f"{key} {origin}, REST ({len(rest)} slices)", series, table, rest))
        broken = table.copy()
        broken.loc[100, "low"] = broken.loc[100, "high"] + 1
        cases.append((f"{key} {origin}, REST, one OHLC error", series, broken, rest))

    print(f"validate_partition, ms per partition (best / median of {args.repeat}):")
    for label, series, table, frame in cases:
        report = validate_partition(series, DAY, table, frame, now_ms=NOW)
        best, median = timed(
            lambda s=series, t=table, f=frame: validate_partition(s, DAY, t, f, now_ms=NOW),
            args.repeat,
        )
        share = " / ".join(f"{median / b:.0%}" for b in BUDGET_MS)
        verdict = "passes" if report.passed(Severity.INFO) else f"{report.summary.errors} error(s)"
        print(
            f"  {label:42s} {len(table):>6} rows {best:7.2f} / {median:7.2f} ms"
            f"  ({share} of a {BUDGET_MS[0]:g}/{BUDGET_MS[1]:g} ms partition; {verdict})"
        )

    _, series, table, _ = cases[0]
    best, median = timed(lambda: CandleSchema.validate(table, lazy=True), args.repeat)
    print(
        "  for comparison, pandera's CandleSchema.validate(lazy=True) alone on the 1m day: "
        f"{best:.2f} / {median:.2f} ms"
    )

    if args.store:
        series = Series.parse("BTCUSDT-1m")
        with tempfile.TemporaryDirectory() as root:
            store = Store(root)
            for n in range(args.store):
                day = DAY + timedelta(days=n)
                table = synthetic_day(series, day, seed=n)
                rows = manifest.from_frame(ledger(plan_day(series, day), Source.REST, table))
                store.publish(PartitionData(series, day, table, rows, []))
            started = time.perf_counter()
            reports = validate_store(store, now_ms=NOW + args.store * 86_400_000)
            took = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            for layer in ("klines", "manifest"):
                store.dataset(layer).to_table().to_pandas()
            reading = (time.perf_counter() - started) * 1000
        n = max(len(reports), 1)
        ok = sum(r.passed(Severity.INFO) for r in reports)
        print(
            f"validate_store over {len(reports)} stored 1m days: {took:.0f} ms, "
            f"{took / n:.2f} ms per partition ({ok} pass), of which reading the two layers "
            f"alone takes {reading / n:.2f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
