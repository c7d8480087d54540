"""The live signal's refresh: 3 series of 1m candles, a year each (366 stored day partitions),
with the SMA and band studies' tables stored as the assets store them. A refresh is what the
`signals` asset does: read the last days and the studies' small tables, write the live tables,
compare with the alerts already raised. Goal: ≤ 1 s per series after the first run.

    uv run python bench/bench_signals.py
"""

import logging
import tempfile
import time

from bench_studies import synthetic_candles

from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.studies import alerts, registered, signals

SERIES = [Series.parse(k) for k in ("BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m")]
STUDIES = ("sma_study", "band_touch_study")


def refresh(store: Store, series: Series) -> int:
    """One refresh of the signal of `series`; how many alerts it raised."""
    now = signals.live_signals(store, series)
    assert now is not None
    store.write_study_table(alerts.SIGNALS, "live_legs", series, now.legs_table())
    store.write_study_table(alerts.SIGNALS, "last_candle", series, now.candle_table())
    fresh = alerts.new_alerts(alerts.candidate_alerts(now), alerts.alerted_keys(store, series))
    alerts.record(store, series, fresh)
    return len(fresh)


def main() -> None:
    logging.disable(logging.WARNING)
    root = tempfile.mkdtemp(prefix="qlir-bench-signals-")
    store = Store(root)
    studies = [s for s in registered() if s.name in STUDIES]
    for seed, series in enumerate(SERIES):
        table = synthetic_candles(seed=seed)
        for day, rows in table.groupby(table["open_time"].dt.date, sort=True):
            store.publish(PartitionData(series, day, rows.reset_index(drop=True), [], []))
        for study in studies:
            for name, frame in study.run(table, series).tables.items():
                store.write_study_table(study.name, name, series, frame)
        print(f"{series}: {len(table)} candles stored, studies written")
    for attempt in range(4):
        for series in SERIES:
            started = time.perf_counter()
            raised = refresh(store, series)
            seconds = time.perf_counter() - started
            label = "first" if attempt == 0 else f"run {attempt + 1}"
            print(f"{series} signals refresh ({label}): {seconds:.3f} s, {raised} alert(s)")


if __name__ == "__main__":
    main()
