"""Mirror mode against the real archive sample: files byte for byte, REST from the same candles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from qlir_core.candles import from_csv, from_rest_json
from qlir_sim.formats import read_zip, to_csv

DAY_START = 1_674_259_200_000  # 2023-01-21T00:00Z
DAY_MS = 86_400_000


def test_every_archive_file_is_served_byte_for_byte(mirror_url: str, mirror_dir: Path) -> None:
    files = sorted(p for p in (mirror_dir / "data").rglob("*") if p.is_file())
    assert len(files) == 30
    with httpx.Client(base_url=mirror_url) as client:
        for path in files:
            response = client.get("/" + path.relative_to(mirror_dir).as_posix())
            assert response.status_code == 200, path
            assert response.content == path.read_bytes(), path


def test_a_day_not_in_the_mirror_is_404(mirror_url: str, archive_path: Callable[..., str]) -> None:
    with httpx.Client(base_url=mirror_url) as client:
        assert client.get(archive_path("BTCUSDT", "1m", "2023-01-22")).status_code == 404
        assert client.get(archive_path("BTCUSDT", "1m", "2023-01-22", True)).status_code == 404
        assert client.get(archive_path("DOGEUSDT", "1m", "2023-01-21")).status_code == 404
        assert client.get("/data/spot/daily/klines/BTCUSDT/1m/nonsense.zip").status_code == 404


def test_rest_pages_of_a_day_equal_the_archive_csv(mirror_url: str, mirror_dir: Path) -> None:
    zip_path = mirror_dir / "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip"
    csv = read_zip(zip_path.read_bytes())
    params: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "interval": "1m",
        "endTime": DAY_START + DAY_MS - 1,
    }
    with httpx.Client(base_url=mirror_url) as client:
        first = client.get(
            "/api/v3/klines", params=params | {"startTime": DAY_START, "limit": 1000}
        )
        rows = first.json()
        after = rows[-1][0] + 60_000
        second = client.get("/api/v3/klines", params=params | {"startTime": after, "limit": 1000})
    assert (first.status_code, second.status_code) == (200, 200)
    assert (len(first.json()), len(second.json())) == (1000, 440)
    served = from_rest_json(first.json() + second.json())
    pd.testing.assert_frame_equal(served, from_csv(csv))
    assert to_csv(served) == csv  # every field, as the archive spells it


def test_most_recent_candles_without_a_start(mirror_url: str) -> None:
    with httpx.Client(base_url=mirror_url) as client:
        rows = client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1h"}).json()
    # 2022-09-07, 2022-09-08 and 2023-01-21 at 24 candles each, oldest first.
    assert len(rows) == 72
    assert rows[-1][0] == DAY_START + 23 * 3_600_000
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_exchange_info_lists_the_mirror_symbols(mirror_url: str) -> None:
    with httpx.Client(base_url=mirror_url) as client:
        info = client.get("/api/v3/exchangeInfo").json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    assert all(s["status"] == "TRADING" and s["isSpotTradingAllowed"] for s in info["symbols"])
    weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
    assert (weight["interval"], weight["intervalNum"], weight["limit"]) == ("MINUTE", 1, 6000)


def test_an_interval_the_mirror_lacks_gives_no_candles(mirror_url: str) -> None:
    with httpx.Client(base_url=mirror_url) as client:
        response = client.get("/api/v3/klines", params={"symbol": "ETHUSDT", "interval": "1h"})
    assert (response.status_code, response.json()) == (200, [])
