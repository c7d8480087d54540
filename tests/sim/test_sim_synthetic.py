"""Synthetic mode: deterministic, continuous, REST equal to archive, with halts and corrupt days."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd

from qlir_core.candles import from_csv, from_rest_json, open_ms
from qlir_core.series import Series
from qlir_sim import Synthetic, serve
from qlir_sim.formats import read_zip

START_MS = 1_704_067_200_000  # 2024-01-01T00:00Z
DAY_MS = 86_400_000
MINUTE_MS = 60_000


def _day_from_archive(client: httpx.Client, path: str) -> pd.DataFrame:
    response = client.get(path)
    assert response.status_code == 200, path
    return from_csv(read_zip(response.content))


def _rest_range(
    client: httpx.Client, symbol: str, interval: str, start: int, end: int
) -> pd.DataFrame:
    """All candles in [start, end] through REST pages of 1000."""
    rows: list[list[Any]] = []
    while True:
        params: dict[str, Any] = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start,
            "endTime": end,
        }
        page = client.get("/api/v3/klines", params=params | {"limit": 1000}).json()
        rows += page
        if len(page) < 1000:
            return from_rest_json(rows)
        start = int(page[-1][0]) + 1


def test_two_servers_with_the_same_seed_serve_the_same_bytes(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    zip_path = archive_path("BTCUSDT", "1m", "2024-01-02")
    params: dict[str, Any] = {
        "symbol": "ETHUSDT",
        "interval": "1h",
        "startTime": START_MS,
        "limit": 60,
    }
    answers = []
    for _ in range(2):
        with serve(small_market()) as url, httpx.Client(base_url=url) as client:
            zip_bytes = client.get(zip_path).content
            checksum = client.get(zip_path + ".CHECKSUM").content
            answers.append(
                (zip_bytes, checksum, client.get("/api/v3/klines", params=params).content)
            )
    assert answers[0] == answers[1]
    # Another seed, another walk.
    series, day = Series.parse("BTCUSDT-1m"), date(2024, 1, 2)
    seven, eight = (small_market(seed=s).full_day(series, day) for s in (7, 8))
    assert not seven["close"].equals(eight["close"])


def test_checksum_and_zip_are_as_the_archive_publishes_them(
    synthetic: httpx.Client, archive_path: Callable[..., str]
) -> None:
    path = archive_path("BTCUSDT", "1m", "2024-01-02")
    data = synthetic.get(path).content
    sidecar = synthetic.get(path + ".CHECKSUM").text
    assert sidecar == f"{hashlib.sha256(data).hexdigest()}  BTCUSDT-1m-2024-01-02.zip\n"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (member,) = archive.infolist()
    assert member.filename == "BTCUSDT-1m-2024-01-02.csv"
    assert member.date_time == (2024, 1, 3, 0, 54, 0)
    assert read_zip(data).startswith(b"1704153600000,")  # header-less, ms before 2025


def test_days_are_continuous_and_rest_equals_archive(
    synthetic: httpx.Client, archive_path: Callable[..., str]
) -> None:
    days = [
        _day_from_archive(synthetic, archive_path("BTCUSDT", "1m", d))
        for d in ("2024-01-01", "2024-01-02", "2024-01-03")
    ]
    rest = _rest_range(synthetic, "BTCUSDT", "1m", START_MS, START_MS + 3 * DAY_MS - 1)
    archive = pd.concat(days, ignore_index=True)
    pd.testing.assert_frame_equal(rest, archive)
    assert [len(d) for d in days] == [1440, 1440, 1440]
    opens = open_ms(archive)
    assert (np.diff(opens) == MINUTE_MS).all()
    closes = archive["close_time"].astype("int64").to_numpy()
    assert (closes == opens + MINUTE_MS - 1).all()
    # Each candle opens at the previous close, across midnight too.
    assert (archive["open"].to_numpy()[1:] == archive["close"].to_numpy()[:-1]).all()


def test_nothing_outside_the_range(
    synthetic: httpx.Client, archive_path: Callable[..., str]
) -> None:
    assert synthetic.get(archive_path("BTCUSDT", "1m", "2023-12-31")).status_code == 404
    assert synthetic.get(archive_path("BTCUSDT", "1m", "2024-01-04")).status_code == 404
    assert synthetic.get(archive_path("BTCUSDT", "5m", "2024-01-02")).status_code == 404
    later: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "startTime": START_MS + 3 * DAY_MS,
    }
    assert synthetic.get("/api/v3/klines", params=later).json() == []
    latest = synthetic.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).json()
    assert len(latest) == 72
    assert latest[-1][0] == START_MS + 3 * DAY_MS - 3_600_000


def test_archive_writes_microseconds_from_2025(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    market = small_market(start=date(2024, 12, 31), days=2)
    with serve(market) as url, httpx.Client(base_url=url) as client:
        old = read_zip(client.get(archive_path("BTCUSDT", "1h", "2024-12-31")).content)
        new = read_zip(client.get(archive_path("BTCUSDT", "1h", "2025-01-01")).content)
        rest = client.get(
            "/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h", "limit": 48}
        ).json()
    assert old.split(b",")[0] == b"1735603200000"
    assert new.split(b",")[0] == b"1735689600000000"
    assert new.split(b"\n")[0].split(b",")[6] == b"1735693199999999"
    both = pd.concat([from_csv(old), from_csv(new)], ignore_index=True)
    pd.testing.assert_frame_equal(both, from_rest_json(rest))  # REST stays in ms


def test_the_current_day_is_served_up_to_now_with_a_forming_candle(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    now = START_MS + 9 * DAY_MS + 12 * 3_600_000 + 30_500  # 2024-01-10T12:00:30.5Z
    market = small_market(days=None)
    with serve(market, clock=lambda: now / 1000) as url, httpx.Client(base_url=url) as client:
        latest = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"}).json()
        today = client.get(archive_path("BTCUSDT", "1m", "2024-01-10"))
        yesterday = client.get(archive_path("BTCUSDT", "1m", "2024-01-09"))
    assert (today.status_code, yesterday.status_code) == (404, 200)
    assert len(latest) == 500
    forming = latest[-1]
    assert forming[0] == now - 30_500
    assert forming[6] > now  # close time in the future
    assert all(row[6] < now for row in latest[:-1])
    full = market.full_day(market.series()[0], date(2024, 1, 10)).iloc[720]
    assert float(forming[5]) < float(full["volume"])  # only part of the minute has traded


def test_a_halt_is_missing_from_rest_and_archive_alike(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    market = small_market(halts=["2024-01-02T12:40/2024-01-02T14:00"])
    day = START_MS + DAY_MS
    with serve(market) as url, httpx.Client(base_url=url) as client:
        archive = _day_from_archive(client, archive_path("BTCUSDT", "1m", "2024-01-02"))
        rest = _rest_range(client, "BTCUSDT", "1m", day, day + DAY_MS - 1)
        hourly = _day_from_archive(client, archive_path("ETHUSDT", "1h", "2024-01-02"))
    pd.testing.assert_frame_equal(rest, archive)
    assert len(archive) == 1440 - 80
    opens = open_ms(archive)
    gap = int(np.argmax(np.diff(opens)))
    assert (opens[gap], opens[gap + 1]) == (day + 759 * MINUTE_MS, day + 840 * MINUTE_MS)
    assert day + 13 * 3_600_000 not in set(open_ms(hourly).tolist())
    assert len(hourly) == 23


def test_corrupt_days_are_served_the_same_by_rest_and_archive(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    market = small_market(
        corrupt_days=["dup:BTCUSDT-1m:2024-01-02", "misalign:ETHUSDT-1m:2024-01-02"]
    )
    day = START_MS + DAY_MS
    with serve(market) as url, httpx.Client(base_url=url) as client:
        dup = _day_from_archive(client, archive_path("BTCUSDT", "1m", "2024-01-02"))
        dup_rest = _rest_range(client, "BTCUSDT", "1m", day, day + DAY_MS - 1)
        odd = _day_from_archive(client, archive_path("ETHUSDT", "1m", "2024-01-02"))
        odd_rest = _rest_range(client, "ETHUSDT", "1m", day, day + DAY_MS - 1)
        clean = _day_from_archive(client, archive_path("BTCUSDT", "1m", "2024-01-03"))
    pd.testing.assert_frame_equal(dup_rest, dup)
    pd.testing.assert_frame_equal(odd_rest, odd)
    assert len(dup) == 1441
    assert open_ms(dup)[720] == open_ms(dup)[721] == day + 720 * MINUTE_MS
    misaligned = open_ms(odd)[open_ms(odd) % MINUTE_MS != 0]
    assert misaligned.tolist() == [day + 720 * MINUTE_MS + 30_000]
    assert len(clean) == 1440
