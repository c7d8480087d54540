"""Every fault switch, set at runtime through POST /sim/faults, observably does its thing."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from qlir_core.candles import from_rest_json, open_ms
from qlir_core.errors import MalformedData
from qlir_sim import Faults, Synthetic, serve
from qlir_sim.formats import read_zip

START_MS = 1_704_067_200_000  # 2024-01-01T00:00Z
PAGE: dict[str, Any] = {"symbol": "BTCUSDT", "interval": "1m", "startTime": START_MS, "limit": 100}


def _set(client: httpx.Client, **faults: Any) -> dict[str, Any]:
    response = client.post("/sim/faults", json=faults)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _page(client: httpx.Client) -> httpx.Response:
    return client.get("/api/v3/klines", params=PAGE)


def _opens(response: httpx.Response) -> list[int]:
    return [int(row[0]) for row in response.json()]


def test_5xx(sim: httpx.Client, archive_path: Callable[..., str]) -> None:
    _set(sim, error_rate=1.0)
    statuses = {_page(sim).status_code for _ in range(12)}
    assert statuses <= {500, 502, 503, 504}
    assert len(statuses) > 1
    assert sim.get(archive_path("BTCUSDT", "1m", "2024-01-02")).status_code >= 500
    assert sim.get("/sim/stats").json()["faults"]["5xx"] == 13


def test_latency(sim: httpx.Client) -> None:
    _set(sim, latency_ms=300)
    started = time.perf_counter()
    assert sim.get("/api/v3/ping").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_timeout(sim: httpx.Client) -> None:
    _set(sim, timeout_rate=1.0, hang_seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        sim.get("/api/v3/ping", timeout=0.2)
    assert sim.get("/sim/stats").json()["faults"]["timeout"] == 1


def test_truncated_body(sim: httpx.Client) -> None:
    clean = _page(sim).content
    _set(sim, truncate_rate=1.0)
    cut = _page(sim).content
    assert len(cut) < len(clean)
    assert clean.startswith(cut)
    with pytest.raises(MalformedData):
        from_rest_json(cut)


def test_malformed_body(sim: httpx.Client) -> None:
    _set(sim, malformed_rate=1.0, seed=5)
    for _ in range(6):  # both kinds: a short candle and a non-numeric field
        body = _page(sim).content
        assert len(json.loads(body)) == 100  # still JSON, still 100 candles
        with pytest.raises(MalformedData):
            from_rest_json(body)


def test_dropped_candles(sim: httpx.Client) -> None:
    clean = _opens(_page(sim))
    _set(sim, drop_rate=1.0)
    dropped = _opens(_page(sim))
    assert 97 <= len(dropped) < 100
    assert set(dropped) < set(clean)
    assert (dropped[0], dropped[-1]) == (clean[0], clean[-1])  # a gap inside, not at the edges


def test_duplicated_candle(sim: httpx.Client) -> None:
    _set(sim, duplicate_rate=1.0)
    opens = _opens(_page(sim))
    assert len(opens) == 101
    assert len(set(opens)) == 100


def test_out_of_order_candles(sim: httpx.Client) -> None:
    clean = _opens(_page(sim))
    _set(sim, out_of_order_rate=1.0)
    shuffled = _opens(_page(sim))
    assert shuffled != clean
    assert sorted(shuffled) == clean
    assert (np.diff(shuffled) < 0).sum() == 1


def test_burst_of_429s(sim: httpx.Client) -> None:
    assert _set(sim, burst_429=3)["burst_429_remaining"] == 3
    burst = [sim.get("/api/v3/ping") for _ in range(4)]
    assert [r.status_code for r in burst] == [429, 429, 429, 200]
    assert burst[0].headers["Retry-After"] == "1"
    assert burst[0].json()["code"] == -1003
    assert sim.get("/sim/faults").json()["burst_429_remaining"] == 0
    _set(sim, latency_ms=1)  # changing another switch does not re-arm the burst
    assert sim.get("/api/v3/ping").status_code == 200


def test_forced_418(sim: httpx.Client) -> None:
    _set(sim, force_418=True)
    banned = _page(sim)
    assert (banned.status_code, banned.headers["Retry-After"]) == (418, "7")
    _set(sim, force_418=False)
    assert _page(sim).status_code == 200


def test_corrupt_zip(sim: httpx.Client, archive_path: Callable[..., str]) -> None:
    _set(sim, corrupt_zip=["2024-01-02"])
    bad = archive_path("BTCUSDT", "1m", "2024-01-02")
    good = archive_path("BTCUSDT", "1m", "2024-01-03")
    for path, intact in ((bad, False), (good, True)):
        data = sim.get(path).content
        expected = sim.get(path + ".CHECKSUM").text.split()[0]
        assert (hashlib.sha256(data).hexdigest() == expected) is intact
    damaged = sim.get(bad).content
    with pytest.raises(zipfile.BadZipFile):
        read_zip(damaged)
    _set(sim, corrupt_zip="all")
    data = sim.get(good).content
    assert hashlib.sha256(data).hexdigest() != sim.get(good + ".CHECKSUM").text.split()[0]


def test_corrupt_checksum(sim: httpx.Client, archive_path: Callable[..., str]) -> None:
    _set(sim, corrupt_checksum=["all"])
    path = archive_path("ETHUSDT", "1h", "2024-01-01")
    data = sim.get(path).content
    digest, name = sim.get(path + ".CHECKSUM").text.split("  ")
    assert len(digest) == 64
    assert name == "ETHUSDT-1h-2024-01-01.zip\n"
    assert digest != hashlib.sha256(data).hexdigest()
    assert sim.get("/sim/stats").json()["faults"] == {"corrupt_checksum": 1}


def test_fault_dice_are_seeded(sim: httpx.Client) -> None:
    runs = []
    for _ in range(2):
        _set(sim, reset=True, error_rate=0.5, drop_rate=0.5, seed=3)
        runs.append([(r.status_code, r.content) for r in (_page(sim) for _ in range(12))])
    assert runs[0] == runs[1]
    assert {status for status, _ in runs[0]} > {200}


def test_faults_from_the_python_api(small_market: Callable[..., Synthetic]) -> None:
    faults = Faults(duplicate_rate=1.0)
    with serve(small_market(), faults=faults) as url, httpx.Client(base_url=url) as client:
        frame = from_rest_json(client.get("/api/v3/klines", params=PAGE).content)
        assert client.get("/sim/faults").json()["faults"]["duplicate_rate"] == 1.0
    assert len(frame) == 101
    assert len(set(open_ms(frame))) == 100


def test_bad_fault_settings_are_rejected(sim: httpx.Client) -> None:
    for bad in ({"no_such_fault": 1}, {"error_rate": 2}, {"latency_ms": "slow"}, {"seed": "x"}):
        response = sim.post("/sim/faults", json=bad)
        assert response.status_code == 400
        assert response.json()["error"]
    assert sim.post("/sim/faults", content=b"not json").status_code == 400
    assert sim.get("/sim/faults").json()["faults"] == Faults().to_json()


def test_stats_count_requests_and_faults(sim: httpx.Client) -> None:
    _set(sim, duplicate_rate=1.0, out_of_order_rate=1.0)
    for _ in range(3):
        _page(sim)
    stats = sim.get("/sim/stats").json()
    assert stats["requests"] == stats["rest_requests"] == 3
    assert stats["faults"] == {"duplicated": 3, "out_of_order": 3}
    assert stats["faults_injected"] == 6
    assert stats["weight"]["used"] == 6
    # the /sim/faults call's own 200 is counted once its response is sent, which can race
    assert stats["responses"] in ({"200": 3}, {"200": 4})
