"""Work run in other processes (spawned) by the fault tests: a plain module they can import."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Any

from qlir_core.errors import QlirError
from qlir_core.ingest import RetryPolicy, SourceMode, Sources, fetch_partition
from qlir_core.manifest import ManifestRow
from qlir_core.pacing import Budget, WeightLimit
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient

TIMEOUT_S = 60.0  # no fault here hangs an answer: only a loaded machine is slow, never this slow


def backfill(
    url: str,
    folder: str,
    series_key: str,
    days: list[str],
    *,
    limit: tuple[int, float] | None = None,
    start_at: float = 0.0,
) -> dict[str, Any]:
    """Fetch `days` of a series through a client sharing the budget in `folder`, from
    `start_at` (epoch seconds) on; candles fetched, errors by type, when it ran, and every
    attempt's (status, when it was sent in epoch seconds), failed partitions' included."""
    weight = WeightLimit(*limit) if limit else None
    budget = Budget.for_url(url, folder=Path(folder), limit=weight)
    log = logging.getLogger("tests.faults.worker")
    rows, errors = 0, []
    ledger: list[ManifestRow] = []
    series = Series.parse(series_key)
    with RestClient(url, timeout=TIMEOUT_S, budget=budget) as client:
        sources = Sources(SourceMode.REST, client, ArchiveClient(url), RetryPolicy(backoff_s=0.01))
        time.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        for day in days:
            now_ms = int(time.time() * 1000)
            try:
                part = fetch_partition(
                    series, date.fromisoformat(day), sources, now_ms=now_ms, log=log, ledger=ledger
                )
            except QlirError as e:
                errors.append(type(e).__name__)
                continue
            rows += len(part.candles)
    attempts = [(r.status.name, r.requested_at.timestamp()) for r in ledger]
    return {
        "rows": rows,
        "errors": errors,
        "attempts": attempts,
        "started": started,
        "ended": time.time(),
    }
