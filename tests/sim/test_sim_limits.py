"""The request-weight limit: used-weight header, 429 with Retry-After, then 418 bans."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from qlir_sim import Limits, Synthetic, serve

KLINES: dict[str, Any] = {"symbol": "BTCUSDT", "interval": "1h", "limit": 5}
WEIGHT = "X-MBX-USED-WEIGHT-1M"


def test_429_then_418_then_recovery(
    small_market: Callable[..., Synthetic], hand_clock: Any, archive_path: Callable[..., str]
) -> None:
    hand_clock.advance(3.5)  # 6.5 s before the end of a 10 s window
    limits = Limits(weight_limit=10, window_seconds=10, ban_after=2, ban_seconds=30)
    with (
        serve(small_market(), limits=limits, clock=hand_clock) as url,
        httpx.Client(base_url=url) as client,
    ):

        def klines() -> httpx.Response:
            return client.get("/api/v3/klines", params=KLINES)

        answers = [klines() for _ in range(5)]
        assert [r.status_code for r in answers] == [200] * 5
        assert [r.headers[WEIGHT] for r in answers] == ["2", "4", "6", "8", "10"]

        for _ in range(2):
            limited = klines()
            assert limited.status_code == 429
            assert limited.headers["Retry-After"] == "7"
            assert limited.headers[WEIGHT] == "10"
            assert limited.json()["code"] == -1003

        banned = klines()  # the third rejection in the window: more than ban_after=2
        assert banned.status_code == 418
        assert banned.headers["Retry-After"] == "30"
        assert banned.json()["code"] == -1003
        assert "banned" in banned.json()["msg"]

        hand_clock.advance(5)  # a new window, but still banned
        assert client.get("/api/v3/ping").status_code == 418
        assert klines().headers["Retry-After"] == "25"
        assert client.get(archive_path("BTCUSDT", "1h", "2024-01-02")).status_code == 200

        hand_clock.advance(26)  # the ban is over
        recovered = klines()
        assert recovered.status_code == 200
        assert recovered.headers[WEIGHT] == "2"

        stats = client.get("/sim/stats").json()
    assert (stats["status_429"], stats["status_418"]) == (2, 3)
    assert stats["rest_requests"] == 11
    assert stats["archive_requests"] == 1
    assert [w["used"] for w in stats["weight"]["windows"]] == [10, 2]


def test_each_endpoint_costs_its_weight(
    small_market: Callable[..., Synthetic], archive_path: Callable[..., str]
) -> None:
    with serve(small_market()) as url, httpx.Client(base_url=url) as client:
        used = [
            client.get("/api/v3/ping").headers[WEIGHT],
            client.get("/api/v3/time").headers[WEIGHT],
            client.get("/api/v3/exchangeInfo").headers[WEIGHT],
            client.get("/api/v3/klines", params=KLINES).headers[WEIGHT],
            client.get("/api/v3/klines", params={"symbol": "NOPE", "interval": "1m"}).headers[
                WEIGHT
            ],
        ]
        archive = client.get(archive_path("BTCUSDT", "1h", "2024-01-02"))
        after = client.get("/api/v3/ping").headers[WEIGHT]
    assert used == ["1", "2", "22", "24", "26"]
    assert archive.status_code == 200
    assert WEIGHT not in archive.headers
    assert after == "27"


def test_a_client_that_waits_retry_after_gets_through(
    small_market: Callable[..., Synthetic],
) -> None:
    limits = Limits(weight_limit=4, window_seconds=1, ban_after=5, ban_seconds=1)
    with serve(small_market(), limits=limits) as url, httpx.Client(base_url=url) as client:
        for _ in range(10):
            response = client.get("/api/v3/klines", params=KLINES)
            if response.status_code == 429:
                break
        assert response.status_code == 429
        wait = int(response.headers["Retry-After"])
        assert wait == 1
        time.sleep(wait)
        assert client.get("/api/v3/klines", params=KLINES).status_code == 200


def test_exchange_info_carries_the_configured_limit(small_market: Callable[..., Synthetic]) -> None:
    limits = Limits(weight_limit=50, window_seconds=10)
    with serve(small_market(), limits=limits) as url:
        info = httpx.get(f"{url}/api/v3/exchangeInfo").json()
    weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
    assert (weight["interval"], weight["intervalNum"], weight["limit"]) == ("SECOND", 10, 50)
    assert Limits(window_seconds=120).interval == ("MINUTE", 2)
    assert Limits(window_seconds=3600).interval == ("HOUR", 1)
