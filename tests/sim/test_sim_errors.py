"""Binance's error bodies for bad requests, and the small endpoints."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

START_MS = 1_704_067_200_000  # 2024-01-01T00:00Z


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"symbol": "NOPEUSDT", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "btcusdt", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "BTCUSDT", "interval": "1x"}, -1120, "Invalid interval."),
        ({"symbol": "BTCUSDT", "interval": "1H"}, -1120, "Invalid interval."),
        ({"interval": "1m"}, -1102, "Mandatory parameter 'symbol' was not sent"),
        ({"symbol": "BTCUSDT"}, -1102, "Mandatory parameter 'interval' was not sent"),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1130, "parameter 'limit'"),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 0}, -1130, "parameter 'limit'"),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": "ten"}, -1100, "parameter 'limit'"),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": -5}, -1100, "'startTime'"),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": START_MS, "endTime": START_MS - 1},
            -1023,
            "Start time is greater than end time.",
        ),
    ],
)
def test_klines_errors(
    synthetic: httpx.Client, params: dict[str, Any], code: int, msg: str
) -> None:
    response = synthetic.get("/api/v3/klines", params=params)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "msg"}
    assert body["code"] == code
    assert msg in body["msg"]
    assert response.headers["X-MBX-USED-WEIGHT-1M"]


def test_exchange_info_symbol_filter(synthetic: httpx.Client) -> None:
    url = "/api/v3/exchangeInfo"
    one = synthetic.get(url, params={"symbol": "ETHUSDT"}).json()
    assert [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]
    assert (one["symbols"][0]["baseAsset"], one["symbols"][0]["quoteAsset"]) == ("ETH", "USDT")
    some = synthetic.get(url, params={"symbols": '["BTCUSDT","ETHUSDT"]'}).json()
    assert [s["symbol"] for s in some["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    unknown = synthetic.get(url, params={"symbol": "NOPEUSDT"})
    assert (unknown.status_code, unknown.json()) == (400, {"code": -1121, "msg": "Invalid symbol."})


def test_limit_defaults_to_500_and_accepts_1000(synthetic: httpx.Client) -> None:
    params: dict[str, Any] = {"symbol": "BTCUSDT", "interval": "1m", "startTime": START_MS}
    assert len(synthetic.get("/api/v3/klines", params=params).json()) == 500
    full = synthetic.get("/api/v3/klines", params=params | {"limit": 1000}).json()
    assert len(full) == 1000


def test_start_and_end_select_like_binance(synthetic: httpx.Client) -> None:
    url = "/api/v3/klines"
    base: dict[str, Any] = {"symbol": "BTCUSDT", "interval": "1m"}
    # From the first candle opening at or after startTime, never past endTime.
    rows = synthetic.get(
        url, params=base | {"startTime": START_MS + 1, "endTime": START_MS + 300_000}
    ).json()
    assert [r[0] for r in rows] == [START_MS + i * 60_000 for i in range(1, 6)]
    # endTime alone: the most recent candles up to it.
    rows = synthetic.get(url, params=base | {"endTime": START_MS + 600_000, "limit": 3}).json()
    assert [r[0] for r in rows] == [START_MS + i * 60_000 for i in (8, 9, 10)]
    # Microsecond parameters are recognised by their size.
    micro = synthetic.get(url, params=base | {"startTime": START_MS * 1000, "limit": 1}).json()
    assert micro[0][0] == START_MS


def test_time_and_ping(synthetic: httpx.Client) -> None:
    before = int(time.time() * 1000)
    server_time = synthetic.get("/api/v3/time").json()["serverTime"]
    assert before <= server_time <= int(time.time() * 1000)
    assert synthetic.get("/api/v3/ping").json() == {}
