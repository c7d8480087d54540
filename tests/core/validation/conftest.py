"""Fixtures: real days and the partitions derived from them (see validation_parts)."""

from pathlib import Path

import pytest
from validation_parts import (
    BTC_1M,
    D0,
    DAY,
    LATER,
    Part,
    halt,
    ingest,
    mirror_series_days,
    write_archive_day,
)

from qlir_core.intervals import MINUTE_MS


@pytest.fixture(scope="session")
def real_days(mirror: Path) -> list[Part]:
    """Every day in the mirror, ingested from the archive."""
    days = mirror_series_days(mirror)
    assert len(days) >= 15
    return [ingest(s, d, now_ms=LATER, mirror=mirror) for s, d in days]


@pytest.fixture(scope="session")
def real_days_rest(real_days: list[Part]) -> list[Part]:
    """Every day in the mirror, ingested over REST from an exchange serving the archive's rows."""
    return [ingest(p.series, p.day, now_ms=LATER, serve=p.candles) for p in real_days]


@pytest.fixture(scope="session")
def btc_archive(mirror: Path) -> Part:
    """BTCUSDT-1m 2023-01-21 from the archive: one slice of 1440 candles."""
    return ingest(BTC_1M, DAY, now_ms=LATER, mirror=mirror)


@pytest.fixture(scope="session")
def btc_rest(btc_archive: Part) -> Part:
    """The same day over REST: slices of 1000 and 440 candles."""
    return ingest(BTC_1M, DAY, now_ms=LATER, serve=btc_archive.candles)


@pytest.fixture(scope="session")
def halt_archive(btc_archive: Part, tmp_path_factory: pytest.TempPathFactory) -> Part:
    folder = tmp_path_factory.mktemp("halt")
    root = write_archive_day(folder, BTC_1M, DAY, halt(btc_archive.candles))
    return ingest(BTC_1M, DAY, now_ms=LATER, mirror=root)


@pytest.fixture(scope="session")
def halt_rest(btc_archive: Part) -> Part:
    return ingest(BTC_1M, DAY, now_ms=LATER, serve=halt(btc_archive.candles))


@pytest.fixture(scope="session")
def today_rest(btc_archive: Part) -> Part:
    """The day as the current day, fetched at 10:00:30 UTC: only its first slice, still forming."""
    return ingest(BTC_1M, DAY, now_ms=D0 + 10 * 60 * MINUTE_MS + 30_000, serve=btc_archive.candles)
