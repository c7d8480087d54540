"""Partitions to publish in the storage tests (a closed day fetched twice, the second time with
an exchange correction), and a worker that publishes one in a child process and can be killed
between two writes: `python -m tests.core.partition_parts ROOT FETCH [STOP_AFTER] [HOLD_S]`."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, date, datetime

import pandas as pd

from qlir_core.intervals import DAY_MS
from qlir_core.manifest import ManifestRow, SliceStatus, Source, StatusReason
from qlir_core.publish import publish_partition
from qlir_core.series import Series
from qlir_core.slices import day_start_ms, plan_day
from qlir_core.storage import PartitionData, RawPayload, Store
from qlir_sim import Synthetic
from qlir_sim.formats import to_rest_rows

BTC_1M = Series.parse("BTCUSDT-1m")
DAY = date(2024, 1, 2)
FULL = Synthetic(symbols=["BTCUSDT"], intervals=["1m"], start=DAY, days=1, seed=11).full_day(
    BTC_1M, DAY
)
AFTER_DAY_MS = day_start_ms(DAY) + DAY_MS
REVISED_AT, REMOVED_AT = 5, 700  # rows of FULL the correction changes and removes
LOG = logging.getLogger("tests.core.partition")


def fetch(table: pd.DataFrame, at_ms: int) -> PartitionData:
    """`table` as a REST fetch of the closed DAY begun at `at_ms`: one complete ledger row and
    one verbatim page per window of the day."""
    rows, raw = [], []
    opens = table["open_time"].astype("int64").to_numpy()
    for i, window in enumerate(plan_day(BTC_1M, DAY)):
        inside = (opens >= window.start_ms) & (opens < window.end_ms)
        page = table[inside]
        when = pd.Timestamp(at_ms + i * 100, unit="ms", tz="UTC")
        rows.append(
            ManifestRow(
                slice_key=window.key,
                slice_id=window.slice_id,
                source=Source.REST,
                url=f"http://127.0.0.1/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime="
                f"{window.start_ms}&endTime={window.end_ms}&limit={window.limit}",
                start_ms=window.start_ms,
                end_ms=window.end_ms,
                limit=window.limit,
                status=SliceStatus.COMPLETE,
                reason=StatusReason.NONE
                if len(page) == window.limit
                else StatusReason.HISTORICAL_SPARSITY,
                http_status=200,
                n_candles=len(page),
                first_open_ms=int(opens[inside][0]) if len(page) else None,
                last_open_ms=int(opens[inside][-1]) if len(page) else None,
                requested_at=when,
                completed_at=when + pd.Timedelta(milliseconds=50),
                duration_ms=50.0,
                bytes=0,
                used_weight=2,
            )
        )
        raw.append(RawPayload(f"{window.slice_id}.json", json.dumps(to_rest_rows(page)).encode()))
    return PartitionData(BTC_1M, DAY, table.reset_index(drop=True), rows, raw)


def corrected() -> pd.DataFrame:
    """FULL as the exchange serves it after a correction: one close changed, one candle gone."""
    table = FULL.copy()
    table.loc[REVISED_AT, "close"] = table.loc[REVISED_AT, "close"] + 1.0
    table.loc[REVISED_AT, "high"] = max(
        table.loc[REVISED_AT, "high"], table.loc[REVISED_AT, "close"]
    )
    return table.drop(index=REMOVED_AT).reset_index(drop=True)


FIRST = AFTER_DAY_MS + 3_600_000  # the first fetch, an hour after the day closed
SECOND = FIRST + 86_400_000  # the refetch, a day later
FETCHES = {"first": lambda: fetch(FULL, FIRST), "second": lambda: fetch(corrected(), SECOND)}


def main(argv: list[str]) -> None:
    root, name = argv[0], argv[1]
    stop_after = int(argv[2]) if len(argv) > 2 else -1
    hold_s = float(argv[3]) if len(argv) > 3 else 0.0
    writes = []

    def step(written: str) -> None:
        writes.append(written)
        time.sleep(hold_s)
        if len(writes) == stop_after:
            os._exit(17)  # killed between this write and the next

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    decision = publish_partition(Store(root), FETCHES[name](), log=LOG, step=step)
    print(
        json.dumps(
            {"reason": decision.reason.value, "writes": writes, "at": str(datetime.now(UTC))}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
