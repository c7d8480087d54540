"""`ingest_partitions` against qlir-sim with a network's latency: partitions overlap in time,
each is stored whole and validated on its own, and a ban stops new ones from starting."""

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from qlir_core import pacing
from qlir_core.ingest import SourceMode, Sources
from qlir_core.manifest import ManifestRow, Source
from qlir_core.pipeline import Refused, Stored, ingest_partitions
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim import Faults, Synthetic, serve

SERIES = [Series.parse("BTCUSDT-1m"), Series.parse("ETHUSDT-1m")]
FIRST = date(2024, 1, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(6)]
LATER_MS = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
LOG = logging.getLogger("tests.ingest_partitions")


@pytest.fixture(autouse=True)
def private_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "default_folder", lambda: tmp_path / "budget")


def market() -> Synthetic:
    return Synthetic(["BTCUSDT", "ETHUSDT"], ["1m"], FIRST, days=len(DAYS), seed=3)


def run(url: str, store: Store, mode: SourceMode, workers: int) -> list:
    parts = [(s, d) for s in SERIES for d in DAYS]
    with RestClient(url, timeout=5.0) as rest, ArchiveClient(url) as archive:
        found = Sources(mode, rest, archive)
        return list(
            ingest_partitions(parts, found, store, workers=workers, log=LOG, clock=lambda: LATER_MS)
        )


def ledgers(store: Store) -> list[ManifestRow]:
    return [r for s in SERIES for d in DAYS for r in store.read_manifest(s, d) or []]


def overlapping(rows: list[ManifestRow]) -> int:
    """How many pairs of requests were in flight at the same time."""
    spans = sorted((r.requested_at, r.completed_at) for r in rows)
    return sum(1 for i, (_, end) in enumerate(spans) for start, _ in spans[i + 1 :] if start < end)


@pytest.mark.parametrize("mode", [SourceMode.ARCHIVE, SourceMode.REST])
def test_partitions_overlap_and_each_is_stored_as_one_at_a_time_would(tmp_path, mode):
    faults = Faults(latency_ms=150, latency_jitter_ms=50)
    with serve(market(), faults=faults) as url:
        together = run(url, Store(str(tmp_path / "together")), mode, workers=6)
        alone = run(url, Store(str(tmp_path / "alone")), mode, workers=1)
    assert all(isinstance(o, Stored) for o in alone)

    assert sorted((o.series.key, o.day) for o in together) == sorted(
        (s.key, d) for s in SERIES for d in DAYS
    )
    assert all(isinstance(o, Stored) and o.report.passed() for o in together)
    rows = ledgers(Store(str(tmp_path / "together")))
    assert {r.source for r in rows} == {Source[mode.name]}
    assert overlapping(rows) > 0  # the network waits overlapped
    assert overlapping(ledgers(Store(str(tmp_path / "alone")))) == 0
    for series in SERIES:
        for day in DAYS:
            a = Store(str(tmp_path / "together")).read_candles(series, day)
            b = Store(str(tmp_path / "alone")).read_candles(series, day)
            pd.testing.assert_frame_equal(a, b)


def test_no_partition_starts_after_a_ban(tmp_path):
    with serve(market(), faults=Faults(force_418=True, latency_ms=50)) as url:
        outcomes = run(url, Store(str(tmp_path / "data")), SourceMode.REST, workers=3)
    assert outcomes
    assert all(isinstance(o, Refused) for o in outcomes)
    assert any(o.banned for o in outcomes)
    # Only the partitions already running when the ban came ran at all.
    assert len(outcomes) <= 3
