"""StoreCollector over scrapes: a partition refetched between two scrapes is counted anew, and
a collector that has scraped before reports what a new one does."""

import logging
from datetime import UTC, date, datetime

from prometheus_client.parser import text_string_to_metric_families

from qlir_core import pacing
from qlir_core.ingest import SourceMode, Sources
from qlir_core.metrics import StoreCollector, exposition
from qlir_core.pipeline import Outcome, Stored, ingest_partition
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim import Synthetic, serve
from qlir_sim.faults import Halt

BTC = Series.parse("BTCUSDT-1m")
FIRST, HALTED = date(2024, 1, 1), date(2024, 1, 2)
LATER = datetime(2024, 1, 5, tzinfo=UTC).timestamp()
LOG = logging.getLogger("tests.metrics")


def market(*halts: Halt) -> Synthetic:
    return Synthetic(["BTCUSDT"], ["1m"], FIRST, days=3, seed=3, halts=halts)


def ingest(exchange: Synthetic, store: Store, *days: date) -> list[Outcome]:
    with serve(exchange) as url, RestClient(url) as rest, ArchiveClient(url) as archive:
        sources = Sources(SourceMode.ARCHIVE, rest, archive)
        return [
            ingest_partition(BTC, d, sources, store, now_ms=int(LATER * 1000), log=LOG)
            for d in days
        ]


def samples(collector: StoreCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition(collector).decode())
        for s in family.samples
    }


def test_a_day_corrected_between_scrapes_is_counted_anew(tmp_path, monkeypatch):
    monkeypatch.setattr(pacing, "default_folder", lambda: tmp_path / "budget")
    store = Store(str(tmp_path / "data"))
    halt = Halt.parse("2024-01-02T12:40/2024-01-02T14:00")
    assert all(isinstance(o, Stored) for o in ingest(market(halt), store, FIRST, HALTED))
    collector = StoreCollector(store, [BTC], FIRST, clock=lambda: LATER)
    exchange_gaps = ("qlir_gap_runs", (("cause", "exchange"), ("series", "BTCUSDT-1m")))
    missing = ("qlir_missing_candles", (("cause", "exchange"), ("series", "BTCUSDT-1m")))
    rows = ("qlir_rows_stored", (("series", "BTCUSDT-1m"),))
    before = samples(collector)
    assert (before[exchange_gaps], before[missing], before[rows]) == (1, 80, 2 * 1440 - 80)

    # The exchange has filled its halt: the refetch is published over the stored day.
    [outcome] = ingest(market(), store, HALTED)
    assert isinstance(outcome, Stored)
    after = samples(collector)
    assert (after[exchange_gaps], after[missing], after[rows]) == (0, 0, 2 * 1440)
    assert after == samples(StoreCollector(store, [BTC], FIRST, clock=lambda: LATER))


def test_an_unstored_series_counts_nothing(tmp_path):
    store = Store(str(tmp_path / "data"))
    found = samples(StoreCollector(store, [BTC], FIRST, clock=lambda: LATER))
    assert found[("qlir_rows_stored", (("series", "BTCUSDT-1m"),))] == 0
    assert found[("qlir_days_stored", (("series", "BTCUSDT-1m"),))] == 0
    assert not [k for k in found if k[0] == "qlir_requests"]
