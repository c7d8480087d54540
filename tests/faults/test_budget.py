"""The request-weight budget through the real client against qlir-sim: parallel processes
share it without a 429, a 429's Retry-After is honoured, a 418 stops every process until the
ban ends, and the limit is read from exchangeInfo before the first klines request (and again
after a 429)."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from qlir_core import candles
from qlir_core.binance import EXCHANGE_INFO_PATH, KLINES_PATH, KLINES_WEIGHT
from qlir_core.errors import IpBanned, RateLimited
from qlir_core.ingest import RetryPolicy, SourceMode, Sources, fetch_partition
from qlir_core.manifest import SliceStatus, StatusReason
from qlir_core.pacing import DEFAULT_LIMIT, Budget, WeightLimit
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_sim import Faults, Limits, Synthetic, serve
from qlir_sim.formats import to_rest_rows
from tests.faults.conftest import (
    BTC_1M,
    FAST,
    LATER_MS,
    LOG,
    Fetch,
    Sim,
    limit_of,
    serve_recorded,
)
from tests.faults.workers import backfill

BTC_1H = Series.parse("BTCUSDT-1h")
FIRST = date(2024, 1, 1)
WAIT_S = 600.0  # for another process or the exchange: what matters is the outcome, not the speed


def _days(first: int, count: int) -> list[str]:
    return [(FIRST + timedelta(days=first + i)).isoformat() for i in range(count)]


def test_two_processes_share_the_budget_and_never_see_a_429(tmp_path: Path) -> None:
    # ban_after=0: the first 429 would already be a 418. The limit is low enough for two
    # processes to reach it (~30 requests a second), however slow the machine is.
    limits = Limits(weight_limit=120, window_seconds=2, ban_after=0)
    hourly = Synthetic(["BTCUSDT"], ["1h"], FIRST, days=200, seed=5)
    for day in _days(0, 200):  # made now, not while serving
        hourly.full_day(BTC_1H, date.fromisoformat(day))
    spawn = multiprocessing.get_context("spawn")
    with (
        serve(hourly, limits=limits) as url,
        ProcessPoolExecutor(2, mp_context=spawn) as pool,
    ):
        # Both processes are up and have imported by `start_at`.
        options: dict[str, Any] = {"limit": (120, 2.0), "start_at": time.time() + 5}
        jobs = [
            pool.submit(backfill, url, str(tmp_path), "BTCUSDT-1h", days, **options)
            for days in (_days(0, 100), _days(100, 100))
        ]
        results = [job.result(timeout=WAIT_S) for job in jobs]
        stats = httpx.get(f"{url}/sim/stats", timeout=WAIT_S).json()
    assert [r["errors"] for r in results] == [[], []]
    assert sum(r["rows"] for r in results) == 200 * 24  # every candle
    assert (stats["status_429"], stats["status_418"]) == (0, 0)
    attempts = [a for r in results for a in r["attempts"]]
    assert len(attempts) == stats["rest_requests"]  # every request is in a ledger
    assert {status for status, _ in attempts} == {SliceStatus.COMPLETE.name}
    # What both processes sent in each of the exchange's windows (epoch-aligned, the same
    # clock), from the times they recorded: never more than the limit.
    sent = Counter(int(at // 2) for _, at in attempts)
    assert max(sent.values()) * KLINES_WEIGHT <= 120, sorted(sent.items())


def test_a_429_is_waited_out_for_its_retry_after_and_every_attempt_is_a_row(
    sim: Sim, fetch: Fetch
) -> None:
    sim.faults(burst_429=2)  # the next two requests: 429 with Retry-After: 1
    started = time.monotonic()
    outcome = fetch()
    assert outcome.part is not None
    assert time.monotonic() - started >= 2.0
    first = [r for r in outcome.ledger if r.start_ms == outcome.ledger[0].start_ms]
    assert [(r.attempt, r.status, r.reason, r.http_status) for r in first] == [
        (1, SliceStatus.FAILED, StatusReason.RATE_LIMITED, 429),
        (2, SliceStatus.FAILED, StatusReason.RATE_LIMITED, 429),
        (3, SliceStatus.COMPLETE, StatusReason.NONE, 200),
    ]
    assert len(outcome.part.candles) == 1440


def test_too_many_429s_fail_the_request(sim: Sim, fetch: Fetch) -> None:
    sim.faults(burst_429=3)
    outcome = fetch(policy=RetryPolicy(rate_limited=2, backoff_s=0.01))
    assert isinstance(outcome.error, RateLimited)
    assert outcome.reasons == ["rate_limited", "rate_limited"]


def test_a_418_stops_the_fetch_at_once_and_any_other_until_the_ban_ends(
    sim: Sim, fetch: Fetch, budget_dir: Path
) -> None:
    sim.faults(force_418=True)  # Retry-After: the exchange's ban length, 3 s
    outcome = fetch()
    assert isinstance(outcome.error, IpBanned)
    assert "banned" in str(outcome.error)
    assert [(r.reason, r.http_status) for r in outcome.ledger] == [(StatusReason.BANNED, 418)]
    sim.faults()  # the exchange would answer again, but the ban has not ended
    requests = sim.stats()["rest_requests"]
    with RestClient(sim.url, budget=Budget.for_url(sim.url, folder=budget_dir)) as other:
        again = fetch(rest_client=other)  # another client (the same as another process)
    assert isinstance(again.error, IpBanned)
    assert 0 < again.error.retry_after <= 3
    assert [(r.reason, r.http_status) for r in again.ledger] == [(StatusReason.BANNED, None)]
    assert sim.stats()["rest_requests"] == requests  # nothing was sent
    time.sleep(again.error.retry_after)
    assert fetch().part is not None


def test_a_ban_stops_another_process_without_a_request(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    with serve(Synthetic(["BTCUSDT"], ["1m"], FIRST, days=3), limits=Limits(ban_seconds=60)) as url:
        httpx.post(f"{url}/sim/faults", json={"force_418": True}, timeout=WAIT_S).raise_for_status()
        with (
            RestClient(url, budget=Budget.for_url(url, folder=tmp_path)) as client,
            pytest.raises(IpBanned),
        ):
            client.get(f"{url}/api/v3/ping", weight=1)
        httpx.post(
            f"{url}/sim/faults", json={"force_418": False}, timeout=WAIT_S
        ).raise_for_status()
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            result = pool.submit(backfill, url, str(tmp_path), "BTCUSDT-1m", _days(1, 1))
            other = result.result(timeout=WAIT_S)
        stats = httpx.get(f"{url}/sim/stats", timeout=WAIT_S).json()
    assert other["errors"] == ["IpBanned"]
    assert stats["rest_requests"] == 1  # the one 418; the other process sent nothing


def test_the_limit_is_read_from_exchange_info_before_the_first_klines_request(
    tmp_path: Path,
) -> None:
    # 40 per 2 s: paced to Binance's 6000 a minute, 30 pages would be answered 429.
    limits = Limits(weight_limit=40, window_seconds=2, ban_after=0)
    hourly = Synthetic(["BTCUSDT"], ["1h"], FIRST, days=30, seed=5)
    with serve_recorded(hourly, limits=limits) as (url, seen):
        result = backfill(url, str(tmp_path), "BTCUSDT-1h", _days(0, 30))
        again = backfill(url, str(tmp_path), "BTCUSDT-1h", _days(0, 2))  # another client
        stats = httpx.get(f"{url}/sim/stats", timeout=WAIT_S).json()
    learned = Budget.for_url(url, folder=tmp_path).status()
    asked = [path.partition("?")[0] for path in seen if path.startswith("/api/")]
    assert seen[0] == "/api/v3/exchangeInfo?symbol=BTCUSDT"  # first, and for one symbol only
    assert asked == [EXCHANGE_INFO_PATH] + [KLINES_PATH] * 32  # once: the limit is shared
    assert (result["errors"], result["rows"], again["errors"]) == ([], 30 * 24, [])
    assert (stats["status_429"], stats["status_418"]) == (0, 0)  # paced to 40 per 2 s
    assert learned.limit == WeightLimit(40, 2.0)
    assert learned.learned


def test_a_limit_exchange_info_cannot_give_keeps_the_default_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    day = Synthetic(["BTCUSDT"], ["1m"], FIRST, days=3, seed=5).full_day(BTC_1M, FIRST)
    asked: list[str] = []

    def exchange(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == EXCHANGE_INFO_PATH:
            return httpx.Response(503, text="Service Unavailable")
        start = int(request.url.params["startTime"])
        page = day[candles.open_ms(day) >= start].head(int(request.url.params["limit"]))
        return httpx.Response(200, json=to_rest_rows(page))

    budget = Budget("fake", folder=tmp_path)
    transport = httpx.MockTransport(exchange)
    with RestClient("https://exchange.test", transport=transport, budget=budget) as client:
        sources = Sources(SourceMode.REST, client, ArchiveClient(str(tmp_path)), FAST)
        for _ in range(2):  # the second partition does not ask again
            part = fetch_partition(BTC_1M, FIRST, sources, now_ms=LATER_MS, log=LOG)
            assert len(part.candles) == 1440
    assert asked == [EXCHANGE_INFO_PATH] + [KLINES_PATH] * 4
    assert budget.status().limit == DEFAULT_LIMIT
    assert not budget.status().learned
    [warning] = [r for r in caplog.records if "request-weight limit" in r.getMessage()]
    assert "HTTP 503" in warning.getMessage()
    assert "pacing to 6000 per 60 s" in warning.getMessage()


def test_a_429_to_the_first_exchange_info_asks_again_before_the_next_request(
    tmp_path: Path,
) -> None:
    limits = Limits(weight_limit=40, window_seconds=2, ban_after=5)
    hourly = Synthetic(["BTCUSDT"], ["1h"], FIRST, days=30, seed=5)
    with serve_recorded(hourly, limits=limits, faults=Faults(burst_429=1)) as (url, seen):
        # exchangeInfo, before the first page, is answered 429 (injected, so that it comes
        # however fast this machine is): read again once its Retry-After is over.
        result = backfill(url, str(tmp_path), "BTCUSDT-1h", _days(0, 30))
        stats = httpx.get(f"{url}/sim/stats", timeout=WAIT_S).json()
        learned = Budget.for_url(url, folder=tmp_path).status()
    assert [p.partition("?")[0] for p in seen[:3]] == [EXCHANGE_INFO_PATH] * 2 + [KLINES_PATH]
    assert result["errors"] == []
    assert result["rows"] == 30 * 24
    assert stats["status_429"] == 1  # paced to what it learned after it: no second one
    assert stats["status_418"] == 0
    assert learned.limit == WeightLimit(40, 2.0)
    assert learned.learned


def test_after_a_429_the_limit_is_read_from_exchange_info(tmp_path: Path) -> None:
    limits = Limits(weight_limit=40, window_seconds=2, ban_after=5)
    hourly = Synthetic(["BTCUSDT"], ["1h"], FIRST, days=30, seed=5)
    with serve(hourly, limits=limits, faults=Faults(burst_429=1)) as url:
        # Known from an earlier read, and stale: Binance's 6000 a minute, far more than the
        # exchange's 40 per 2 s now (so not read before the first page).
        Budget.for_url(url, folder=tmp_path).learn(DEFAULT_LIMIT)
        # The first answer is a 429 (injected, so that it comes however fast this machine is).
        result = backfill(url, str(tmp_path), "BTCUSDT-1h", _days(0, 30))
        stats = httpx.get(f"{url}/sim/stats", timeout=WAIT_S).json()
        learned = Budget.for_url(url, folder=tmp_path).status()
    assert result["errors"] == []
    assert result["rows"] == 30 * 24
    assert stats["status_429"] == 1  # paced to what it learned after it: no second one
    assert stats["status_418"] == 0
    assert learned.limit == WeightLimit(40, 2.0)
    assert learned.learned


def test_calibrate_reads_the_limit_before_the_first_request(sim: Sim, budget_dir: Path) -> None:
    announced = limit_of(sim.url)
    with RestClient(sim.url, budget=Budget.for_url(sim.url, folder=budget_dir)) as client:
        assert client.calibrate("BTCUSDT") == announced
        assert client.calibrate("BTCUSDT") == announced
    assert sim.stats()["rest_requests"] == 2  # limit_of's, and one: known after the first


def test_calibrate_keeps_the_default_when_exchange_info_fails(sim: Sim, budget_dir: Path) -> None:
    sim.faults(error_rate=1.0)
    with RestClient(sim.url, budget=Budget.for_url(sim.url, folder=budget_dir)) as client:
        assert client.calibrate("BTCUSDT") == DEFAULT_LIMIT
        assert not client.budget.knows_limit()


def test_a_configured_limit_is_not_asked_for(sim: Sim, budget_dir: Path) -> None:
    budget = Budget.for_url(sim.url, folder=budget_dir, limit=WeightLimit(1200, 60.0))
    with RestClient(sim.url, budget=budget) as client:
        assert client.calibrate() == WeightLimit(1200, 60.0)
    assert sim.stats()["rest_requests"] == 0


def test_the_used_weight_of_every_answer_is_in_the_manifest(sim: Sim, fetch: Fetch) -> None:
    sim.faults(error_rate=0.5, seed=4)
    outcome = fetch(series=BTC_1M, policy=FAST)
    assert outcome.part is not None
    weights = [r.used_weight for r in outcome.ledger]
    counted = [w for w in weights if w is not None]
    assert counted == weights  # none missing
    assert counted == sorted(counted)  # one window, counting up: 5xx answers cost weight too
    assert len(weights) > 2
