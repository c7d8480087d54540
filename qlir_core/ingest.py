"""Fetching one (series, day) partition from the archive or REST, with its manifest rows.

No Dagster here: the asset calls `fetch_partition` and publishes what it returns. Every attempt
at every request is a manifest row, failed ones included. What is asked again (tenacity; capped
exponential backoff with equal jitter, see RetryPolicy):

- 5xx, timeouts, refused or reset connections: retried with backoff (REST and archive).
- 429: retried once the shared budget's Retry-After pause is over (10 at most per request).
- 418: IpBanned, never retried; no qlir process sends anything until the ban ends.
- Any other 4xx (-1121 unknown symbol, 403 WAF, …) and the archive's 404: not retried.
- A malformed REST body (cut short, not klines, a kline without 12 fields, a non-numeric field,
  candles out of order, duplicated or outside the window asked for): retried with backoff. A body
  is made per request, so a bad one is more likely damage to that answer than the exchange's
  data; five in a row fail the partition, the kind as the reason. The page is rejected whole:
  malformed candles are never stored.
- A malformed archive file or a checksum mismatch: not retried (the file is what is published);
  AUTO then fetches the day from REST.
- A closed REST window with fewer candles than asked: asked again at once until two answers
  agree. A real gap (a halt) answers the same twice; candles lost on the way do not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import TypeVar

import numpy as np
import pandas as pd
from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.wait import wait_exponential, wait_random_exponential

from qlir_core import candles, manifest
from qlir_core.errors import (
    ChecksumMismatch,
    InvalidSymbol,
    IpBanned,
    Malformation,
    MalformedData,
    NetworkError,
    NotPublished,
    QlirError,
    RateLimited,
    RequestRejected,
    ServerError,
    TemporaryError,
)
from qlir_core.manifest import ManifestRow, SliceStatus, Source, StatusReason
from qlir_core.series import Series
from qlir_core.slices import SliceKey, day_of_ms, plan_day, whole_day
from qlir_core.sources.archive import ArchiveClient, ArchiveDay
from qlir_core.sources.rest import KLINES_WEIGHT, Reply, RestClient, parse_klines
from qlir_core.storage import PartitionData, RawPayload

T = TypeVar("T")
Record = Callable[[ManifestRow], None]


class SourceMode(Enum):
    AUTO = "auto"  # the archive for days it publishes, REST for recent days and as fallback
    REST = "rest"
    ARCHIVE = "archive"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one request is asked again."""

    attempts: int = 5  # tries per request, 429s aside
    rate_limited: int = 10  # 429s per request before giving up (each waits its Retry-After)
    backoff_s: float = 1.0  # the wait after the first failure: doubled each time, capped
    max_backoff_s: float = 30.0

    def wait(self, state: RetryCallState) -> float:
        """Equal jitter: half the capped exponential step, plus up to as much again at random,
        so that parallel workers failing together do not come back together."""
        half = {"multiplier": self.backoff_s / 2, "max": self.max_backoff_s / 2}
        return float((wait_exponential(**half) + wait_random_exponential(**half))(state))


DEFAULT_RETRY = RetryPolicy()


@dataclass
class Sources:
    mode: SourceMode
    rest: RestClient
    archive: ArchiveClient
    retry: RetryPolicy | None = None  # None: DEFAULT_RETRY


def fetch_partition(
    series: Series,
    day: date,
    sources: Sources,
    *,
    now_ms: int,
    log: logging.Logger,
    ledger: list[ManifestRow] | None = None,
) -> PartitionData:
    """The partition's final candles, manifest rows and raw payloads. Raises a QlirError
    (nothing to publish) when the day cannot be fetched; `ledger`, when given, receives every
    attempt's row as it happens, so the rows of a failed partition can be logged too."""
    rows: list[ManifestRow] = []

    def record(row: ManifestRow) -> None:
        rows.append(row)
        if ledger is not None:
            ledger.append(row)

    fetch = _Fetch(sources.retry or DEFAULT_RETRY, now_ms, record, log)
    use_archive = sources.mode is SourceMode.ARCHIVE or (
        sources.mode is SourceMode.AUTO and day < day_of_ms(now_ms)
    )
    if use_archive:
        try:
            table, raw = fetch.archive(series, day, sources.archive)
            return PartitionData(series, day, table, rows, raw)
        except (NotPublished, ChecksumMismatch, MalformedData) as e:
            if sources.mode is SourceMode.ARCHIVE:
                raise
            if isinstance(e, NotPublished):
                log.info("archive has no %s %s; falling back to REST", series, day)
            else:
                log.warning(
                    "archive file for %s %s unusable (%s); falling back to REST", series, day, e
                )
    table, raw = fetch.rest(series, day, sources.rest)
    return PartitionData(series, day, table, rows, raw)


def check_page(table: pd.DataFrame, window: SliceKey, source: str) -> pd.DataFrame:
    """`table` when its candles open inside `window`, each once, in ascending order; else
    MalformedData naming the first fault (such a page is never stored)."""
    opens = candles.open_ms(table)
    if len(opens) == 0:
        return table
    values, counts = np.unique(opens, return_counts=True)
    if (counts > 1).any():
        raise MalformedData(
            f"{source}: a candle is sent twice (open time {_iso(int(values[counts > 1][0]))})",
            Malformation.DUPLICATE,
        )
    steps = np.diff(opens)
    if (steps < 0).any():
        i = int(np.argmax(steps < 0)) + 1
        raise MalformedData(
            f"{source}: candle #{i} ({_iso(int(opens[i]))}) opens before the one before it "
            f"({_iso(int(opens[i - 1]))})",
            Malformation.OUT_OF_ORDER,
        )
    outside = opens[(opens < window.start_ms) | (opens > window.end_ms)]
    if len(outside):
        raise MalformedData(
            f"{source}: a candle opens at {_iso(int(outside[0]))}, outside the window asked for "
            f"({_iso(window.start_ms)} … {_iso(window.end_ms)})",
            Malformation.OUTSIDE_WINDOW,
        )
    return table


class _ShortPage(TemporaryError):
    """A closed window answered with fewer candles than asked, not yet confirmed by a second
    identical answer."""

    def __init__(
        self, message: str, table: pd.DataFrame, outcome: tuple[SliceStatus, StatusReason]
    ) -> None:
        super().__init__(message)
        self.table = table
        self.outcome = outcome  # how the answer classifies on its own


@dataclass(frozen=True)
class _Attempt:
    """One try at one request: what was asked, and when (for the manifest row)."""

    window: SliceKey
    source: Source
    url: str
    number: int
    requested_at: pd.Timestamp


class _Fetch:
    """One partition's fetching: the retry policy, the clock and where rows are recorded."""

    def __init__(
        self, policy: RetryPolicy, now_ms: int, record: Record, log: logging.Logger
    ) -> None:
        self.policy = policy
        self.now_ms = now_ms
        self.record = record
        self.log = log

    def archive(
        self, series: Series, day: date, client: ArchiveClient
    ) -> tuple[pd.DataFrame, list[RawPayload]]:
        window = whole_day(series, day)
        url = client.url(series, day)
        number = 0

        def attempt() -> tuple[ArchiveDay, pd.DataFrame]:
            nonlocal number
            number += 1
            tried = _Attempt(window, Source.ARCHIVE, url, number, _now())
            try:
                fetched = client.fetch(series, day)
                table = check_page(fetched.candles, window, fetched.url)
            except QlirError as e:
                self.record(_failed(tried, e, None))
                raise
            return fetched, candles.final_only(table, self.now_ms)

        fetched, table = self._with_retries(attempt, retry_malformed=False)
        status, reason = manifest.classify(window, len(table), self.now_ms)
        self.record(
            _row(
                _Attempt(window, Source.ARCHIVE, fetched.url, number, fetched.requested_at),
                status,
                reason,
                table,
                completed_at=fetched.completed_at,
                duration_ms=fetched.duration_ms,
                size=len(fetched.zip_bytes),
            )
        )
        self.log.debug(
            "archive %s: %d candles in %.0f ms", fetched.url, len(table), fetched.duration_ms
        )
        raw = [
            RawPayload(f"{window.slice_id}.zip", fetched.zip_bytes),
            RawPayload(f"{window.slice_id}.zip.CHECKSUM", fetched.checksum),
        ]
        return table, raw

    def rest(
        self, series: Series, day: date, client: RestClient
    ) -> tuple[pd.DataFrame, list[RawPayload]]:
        tables: list[pd.DataFrame] = []
        raw: list[RawPayload] = []
        for window in plan_day(series, day):
            if window.start_ms >= self.now_ms:
                break  # the rest of the day has not begun
            table, reply = self._rest_window(window, client)
            tables.append(table)
            raw.append(RawPayload(f"{window.slice_id}.json", reply.body))
        table = pd.concat(tables, ignore_index=True) if tables else candles.empty()
        return table, raw

    def _rest_window(self, window: SliceKey, client: RestClient) -> tuple[pd.DataFrame, Reply]:
        url = client.klines_url(window)
        closed = self.now_ms > window.end_ms
        short_answers: list[frozenset[int]] = []
        number = 0

        def attempt() -> tuple[pd.DataFrame, Reply]:
            nonlocal number
            number += 1
            tried = _Attempt(window, Source.REST, url, number, _now())
            reply: Reply | None = None
            try:
                reply = client.send(url, KLINES_WEIGHT)
                page = check_page(parse_klines(reply), window, url)
                table = candles.final_only(page, self.now_ms)
                if closed and len(table) < window.limit:
                    opens = frozenset(candles.open_ms(table).tolist())
                    if opens not in short_answers:  # not yet the same answer twice
                        short_answers.append(opens)
                        raise _ShortPage(
                            f"{url}: {len(table)} of {window.limit} candles in a closed "
                            "window; asking again to tell a real gap from lost candles",
                            table,
                            manifest.classify(window, len(table), self.now_ms),
                        )
            except QlirError as e:
                self.record(_failed(tried, e, reply))
                raise
            return table, reply

        table, reply = self._with_retries(attempt, retry_malformed=True)
        status, reason = manifest.classify(window, len(table), self.now_ms)
        self.record(
            _row(
                _Attempt(window, Source.REST, reply.url, number, reply.requested_at),
                status,
                reason,
                table,
                completed_at=reply.completed_at,
                duration_ms=reply.duration_ms,
                size=len(reply.body),
                http_status=reply.status,
                used_weight=reply.used_weight,
            )
        )
        return table, reply

    def _with_retries(self, call: Callable[[], T], *, retry_malformed: bool) -> T:
        """Run `call` under the retry policy (see the module docstring)."""
        policy = self.policy
        failures = {"rate_limited": 0, "other": 0}

        def retryable(error: BaseException) -> bool:
            if isinstance(error, MalformedData):
                return retry_malformed
            return isinstance(error, TemporaryError) and not isinstance(error, NotPublished)

        def counted() -> T:
            try:
                return call()
            except QlirError as e:
                failures["rate_limited" if isinstance(e, RateLimited) else "other"] += 1
                raise

        def stop(state: RetryCallState) -> bool:
            return (
                failures["rate_limited"] >= policy.rate_limited
                or failures["other"] >= policy.attempts
            )

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimited | _ShortPage):
                return 0.0  # after a 429 the shared budget holds every request back
            return policy.wait(state)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait_s = state.next_action.sleep if state.next_action else 0.0
            self.log.warning(
                "%s (attempt %d; again in %.1f s)", error, state.attempt_number, wait_s
            )

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            stop=stop,
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(counted)


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _row(
    tried: _Attempt,
    status: SliceStatus,
    reason: StatusReason,
    table: pd.DataFrame,
    *,
    completed_at: pd.Timestamp,
    duration_ms: float,
    size: int,
    http_status: int | None = None,
    used_weight: int | None = None,
) -> ManifestRow:
    window = tried.window
    opens = candles.open_ms(table)
    return ManifestRow(
        slice_key=window.key,
        slice_id=window.slice_id,
        source=tried.source,
        url=tried.url,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        limit=window.limit,
        status=status,
        reason=reason,
        http_status=http_status,
        n_candles=len(table),
        first_open_ms=int(opens[0]) if len(opens) else None,
        last_open_ms=int(opens[-1]) if len(opens) else None,
        requested_at=tried.requested_at,
        completed_at=completed_at,
        duration_ms=duration_ms,
        bytes=size,
        used_weight=used_weight,
        attempt=tried.number,
    )


def _failed(tried: _Attempt, error: QlirError, reply: Reply | None) -> ManifestRow:
    """The row of a failed attempt: its reason, and what came back if anything did."""
    completed = _now()
    status, reason, table = SliceStatus.FAILED, _reason(error), candles.empty()
    if isinstance(error, _ShortPage):
        # A plausible answer, recorded as such; the next attempt at the slice supersedes it.
        status, reason = error.outcome
        table = error.table
    if reply is None:
        return _row(
            tried,
            status,
            reason,
            table,
            completed_at=completed,
            duration_ms=(completed - tried.requested_at).total_seconds() * 1000,
            size=0,
            http_status=getattr(error, "status", None),
        )
    return _row(
        _Attempt(tried.window, tried.source, tried.url, tried.number, reply.requested_at),
        status,
        reason,
        table,
        completed_at=reply.completed_at,
        duration_ms=reply.duration_ms,
        size=len(reply.body),
        http_status=reply.status,
        used_weight=reply.used_weight,
    )


_REASONS: list[tuple[type[QlirError], StatusReason]] = [
    (RateLimited, StatusReason.RATE_LIMITED),
    (IpBanned, StatusReason.BANNED),
    (InvalidSymbol, StatusReason.INVALID_SYMBOL),
    (ChecksumMismatch, StatusReason.CHECKSUM_MISMATCH),
    (NotPublished, StatusReason.NOT_PUBLISHED),
    (NetworkError, StatusReason.NETWORK_UNAVAILABLE),
    (ServerError, StatusReason.HTTP_ERROR),
    (RequestRejected, StatusReason.HTTP_ERROR),
]
# Each kind of malformed payload is its own reason (the values are the same by design).
MALFORMED_REASONS = {kind: StatusReason(kind.value) for kind in Malformation}


def _reason(error: QlirError) -> StatusReason:
    if isinstance(error, MalformedData):
        return MALFORMED_REASONS[error.kind]
    return next((r for kind, r in _REASONS if isinstance(error, kind)), StatusReason.HTTP_ERROR)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()
