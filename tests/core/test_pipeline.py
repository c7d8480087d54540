"""`ingest_partition` against qlir-sim, without Dagster: each outcome, and what it reports."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from qlir_core import pacing
from qlir_core.ingest import SourceMode, Sources
from qlir_core.manifest import Source
from qlir_core.pipeline import KeptPrevious, Outcome, Refused, Stored, ingest_partition
from qlir_core.publish import Reason
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim import Faults, Synthetic, serve

BTC = Series.parse("BTCUSDT-1m")
DAY = date(2024, 1, 2)
LATER_MS = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
LOG = logging.getLogger("tests.pipeline")


def market(**quirks) -> Synthetic:
    return Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=3, seed=11, **quirks)


@pytest.fixture
def ingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """`ingest(market, mode, faults=None)` → the outcome of one run on DAY, storing in tmp."""
    monkeypatch.setattr(pacing, "default_folder", lambda: tmp_path / "budget")
    store = Store(str(tmp_path / "data"))

    @contextmanager
    def sources(url: str, mode: SourceMode) -> Iterator[Sources]:
        with RestClient(url, timeout=2.0) as client:
            yield Sources(mode, client, ArchiveClient(url))

    def run(exchange: Synthetic, mode: SourceMode, faults: Faults | None = None) -> Outcome:
        with serve(exchange, faults=faults) as url, sources(url, mode) as s:
            return ingest_partition(BTC, DAY, s, store, now_ms=LATER_MS, log=LOG)

    return run


def test_a_new_day_is_stored_and_reported(ingest, tmp_path):
    outcome = ingest(market(), SourceMode.ARCHIVE)
    assert isinstance(outcome, Stored)
    assert (outcome.decision.reason, outcome.source, outcome.partial) == (
        Reason.NEW,
        Source.ARCHIVE,
        False,
    )
    assert outcome.report.passed()
    assert outcome.report.summary.rows == 1440
    assert outcome.fetched.requests == 1
    again = ingest(market(), SourceMode.ARCHIVE)
    assert isinstance(again, Stored)
    assert again.decision.reason is Reason.UNCHANGED
    assert Store(str(tmp_path / "data")).stored_days(BTC) == [DAY]


def test_a_day_failing_validation_is_refused_with_its_report(ingest, tmp_path):
    outcome = ingest(market(corrupt_days=["misalign:BTCUSDT-1m:2024-01-02"]), SourceMode.ARCHIVE)
    assert isinstance(outcome, Refused)
    assert outcome.report is not None
    assert not outcome.report.passed()
    assert "MISALIGNED_OPEN" in outcome.reason
    assert outcome.error is None
    assert not outcome.banned
    assert Store(str(tmp_path / "data")).stored_days(BTC) == []


def test_a_ban_is_a_refused_outcome(ingest):
    outcome = ingest(market(), SourceMode.REST, Faults(force_418=True))
    assert isinstance(outcome, Refused)
    assert outcome.banned
    assert outcome.report is None
    assert outcome.fetched.requests == 1


def test_the_outcomes_are_a_closed_set():
    assert {Stored, KeptPrevious, Refused} == set(Outcome.__args__)
