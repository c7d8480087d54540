"""5xx, timeouts and refused connections are asked again (backoff with jitter) and end
complete or failed with their reason; 4xx other than 429 are not asked again; in AUTO an
archive still failing after its tries gives way to REST. Every attempt is a manifest row."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
import pytest
from tenacity import RetryCallState, Retrying

from qlir_core import candles
from qlir_core.errors import (
    ChecksumMismatch,
    ConfigError,
    InvalidSymbol,
    IpBanned,
    MalformedFile,
    MalformedPage,
    NetworkError,
    NotPublished,
    OperationalError,
    QlirError,
    RateLimited,
    RequestRejected,
    ServerError,
    TemporaryError,
    UnconfirmedPage,
)
from qlir_core.ingest import RetryPolicy, SourceMode
from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.pacing import Budget, WeightLimit
from qlir_core.series import Series
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.validation import validate_partition
from qlir_sim import Faults, serve
from qlir_sim.formats import to_rest_rows
from tests.faults.conftest import BTC_1M, DAY, FAST, LATER_MS, Fetch, Sim, market


def test_5xx_answers_are_asked_again_until_the_partition_is_complete(
    sim: Sim, fetch: Fetch, served: Callable[..., pd.DataFrame]
) -> None:
    sim.faults(error_rate=0.5, seed=2)
    outcome = fetch()
    assert outcome.part is not None
    pd.testing.assert_frame_equal(outcome.part.candles, served(BTC_1M, DAY))
    failed = [r for r in outcome.ledger if r.status is SliceStatus.FAILED]
    assert failed, "the dice were meant to fail some requests"
    assert {r.reason for r in failed} == {StatusReason.HTTP_ERROR}
    assert {r.http_status for r in failed} <= {500, 502, 503, 504}
    for key in {r.slice_key for r in outcome.ledger}:  # attempts 1, 2, … the last complete
        rows = [r for r in outcome.ledger if r.slice_key == key]
        assert [r.attempt for r in rows] == list(range(1, len(rows) + 1))
        assert rows[-1].status is SliceStatus.COMPLETE


def test_5xx_every_time_fails_after_five_attempts(sim: Sim, fetch: Fetch) -> None:
    sim.faults(error_rate=1.0)
    outcome = fetch()
    assert isinstance(outcome.error, ServerError)
    assert outcome.reasons == ["http_error"] * 5
    assert sim.stats()["rest_requests"] == 5


def test_timeouts_are_asked_again(sim: Sim, fetch: Fetch, budget_dir: Path) -> None:
    sim.faults(timeout_rate=0.5, hang_seconds=1.0, seed=3)
    budget = Budget.for_url(sim.url, folder=budget_dir, limit=WeightLimit())
    with RestClient(sim.url, timeout=0.2, budget=budget) as impatient:
        outcome = fetch(rest_client=impatient)
    assert outcome.part is not None
    assert len(outcome.part.candles) == 1440
    timed_out = [r for r in outcome.ledger if r.status is SliceStatus.FAILED]
    assert timed_out
    assert {(r.reason, r.http_status) for r in timed_out} == {
        (StatusReason.NETWORK_UNAVAILABLE, None)
    }


def test_a_refused_connection_fails_after_five_attempts(fetch: Fetch, budget_dir: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with RestClient(url, budget=Budget.for_url(url, folder=budget_dir)) as nowhere:
        outcome = fetch(rest_client=nowhere)
    assert isinstance(outcome.error, NetworkError)
    assert "ConnectError" in str(outcome.error)
    assert outcome.reasons == ["network_unavailable"] * 5


def test_an_unlisted_symbol_is_not_asked_again(sim: Sim, fetch: Fetch) -> None:
    outcome = fetch(series=Series.parse("XRPUSDT-1m"))
    assert isinstance(outcome.error, InvalidSymbol)
    assert "-1121" in str(outcome.error)
    assert [(r.reason, r.http_status) for r in outcome.ledger] == [
        (StatusReason.INVALID_SYMBOL, 400)
    ]
    assert sim.stats()["rest_requests"] == 1


def _exchange(status: int, body: bytes, failures: int) -> Callable[[httpx.Request], Any]:
    """A fake exchange answering `status` with `body` `failures` times, then the candles."""
    day = market().full_day(BTC_1M, DAY)
    opens = candles.open_ms(day)
    asked = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        asked["n"] += 1
        if asked["n"] <= failures:
            return httpx.Response(status, content=body, headers={"Retry-After": "0"})
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        page = day[opens >= int(query["startTime"])].head(int(query["limit"]))
        return httpx.Response(200, json=to_rest_rows(page))

    return handler


def _error(code: int, msg: str) -> bytes:
    return json.dumps({"code": code, "msg": msg}).encode()


@pytest.mark.parametrize(
    ("status", "body", "error", "reason"),
    [
        (500, _error(-1000, "An unknown error occurred"), None, StatusReason.HTTP_ERROR),
        (502, b"<html>Bad Gateway</html>", None, StatusReason.HTTP_ERROR),
        (503, _error(-1008, "Server is currently overloaded"), None, StatusReason.HTTP_ERROR),
        (504, b"Gateway Timeout", None, StatusReason.HTTP_ERROR),
        (429, _error(-1003, "Too much request weight used"), None, StatusReason.RATE_LIMITED),
        (418, _error(-1003, "Way too much request weight used"), IpBanned, StatusReason.BANNED),
        (400, _error(-1121, "Invalid symbol."), InvalidSymbol, StatusReason.INVALID_SYMBOL),
        (400, _error(-1100, "Illegal characters"), RequestRejected, StatusReason.HTTP_ERROR),
        (403, b"<html>Forbidden</html>", RequestRejected, StatusReason.HTTP_ERROR),
        (404, b"Not Found", RequestRejected, StatusReason.HTTP_ERROR),
    ],
)
def test_what_is_asked_again_by_status(
    fetch: Fetch,
    budget_dir: Path,
    status: int,
    body: bytes,
    error: type[QlirError] | None,
    reason: StatusReason,
) -> None:
    transport = httpx.MockTransport(_exchange(status, body, failures=2))
    budget = Budget("fake", folder=budget_dir, limit=WeightLimit())
    with RestClient("https://exchange.test", transport=transport, budget=budget) as fake:
        outcome = fetch(rest_client=fake)
    first = [(r.attempt, r.reason, r.http_status) for r in outcome.ledger][:3]
    if error is None:  # retried: two failures, then the page
        assert outcome.part is not None
        assert len(outcome.part.candles) == 1440
        assert first == [(1, reason, status), (2, reason, status), (3, StatusReason.NONE, 200)]
    else:  # not retried: one attempt, and the error
        assert isinstance(outcome.error, error)
        assert first == [(1, reason, status)]


@pytest.mark.parametrize("failures", range(1, 9))
def test_backoff_is_capped_exponential_with_equal_jitter(failures: int) -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=30.0)
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = failures
    step = min(30.0, 2.0 ** (failures - 1))
    waits = [policy.wait(state) for _ in range(200)]
    assert step / 2 <= min(waits)
    assert max(waits) <= step
    assert max(waits) - min(waits) > step / 4  # jittered, not fixed


def test_429s_have_their_own_allowance(sim: Sim, fetch: Fetch) -> None:
    sim.faults(burst_429=1, error_rate=0.0)
    outcome = fetch(policy=RetryPolicy(attempts=1, backoff_s=0.01))
    assert outcome.part is not None  # the 429 did not use up the one attempt
    assert outcome.reasons[:2] == ["rate_limited", "none"]
    assert not isinstance(outcome.error, RateLimited)


def test_the_default_policy_gives_up_within_a_minute() -> None:
    policy = RetryPolicy()
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    worst = 0.0
    for n in range(1, policy.attempts):
        state.attempt_number = n
        worst += max(policy.wait(state) for _ in range(50))
    assert worst <= 60
    assert FAST.attempts == policy.attempts


@pytest.mark.parametrize(
    ("error", "asked_again"),
    [
        (NetworkError, True),
        (ServerError, True),
        (RateLimited, True),
        (MalformedPage, True),
        (UnconfirmedPage, True),
        (NotPublished, False),
        (MalformedFile, False),
        (ChecksumMismatch, False),
        (IpBanned, False),
        (InvalidSymbol, False),
        (RequestRejected, False),
        (ConfigError, False),
    ],
)
def test_the_error_tree_says_what_is_asked_again(error: type[QlirError], asked_again: bool) -> None:
    assert issubclass(error, TemporaryError) is asked_again
    assert issubclass(error, OperationalError) is not asked_again


@pytest.fixture
def failing_archive() -> Iterator[tuple[str, ArchiveClient]]:
    """Another exchange, of the same market, whose every answer is a 5xx: its archive."""
    with serve(market(), faults=Faults(error_rate=1.0)) as url:
        yield url, ArchiveClient(url)


def test_in_auto_mode_an_archive_failing_with_5xx_after_its_tries_falls_back_to_rest(
    sim: Sim,
    fetch: Fetch,
    served: Callable[..., pd.DataFrame],
    failing_archive: tuple[str, ArchiveClient],
) -> None:
    url, archive = failing_archive
    outcome = fetch(mode=SourceMode.AUTO, archive=archive)
    assert outcome.part is not None
    pd.testing.assert_frame_equal(outcome.part.candles, served(BTC_1M, DAY))
    archived = [r for r in outcome.ledger if r.source is Source.ARCHIVE]
    assert [(r.attempt, r.status) for r in archived] == [
        (n, SliceStatus.FAILED) for n in range(1, 6)
    ]
    assert [(r.source, r.reason) for r in outcome.ledger[5:]] == [
        (Source.REST, StatusReason.NONE),
        (Source.REST, StatusReason.NONE),
    ]
    failed = httpx.get(f"{url}/sim/stats", timeout=10).json()
    assert failed["archive_requests"] == failed["faults"]["5xx"] == 5  # each answered 5xx
    assert sim.stats()["rest_requests"] == 2
    report = validate_partition(
        BTC_1M, DAY, outcome.part.candles, outcome.part.manifest, now_ms=LATER_MS
    )
    assert report.passed(), report


def test_in_archive_mode_an_archive_failing_with_5xx_fails_the_day(
    sim: Sim, fetch: Fetch, failing_archive: tuple[str, ArchiveClient]
) -> None:
    outcome = fetch(mode=SourceMode.ARCHIVE, archive=failing_archive[1])
    assert isinstance(outcome.error, TemporaryError)
    assert len(outcome.ledger) == 5
    assert {r.source for r in outcome.ledger} == {Source.ARCHIVE}
    assert sim.stats()["rest_requests"] == 0
