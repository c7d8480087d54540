"""Fetching one (series, day) partition from the archive or REST, with its manifest rows.

No Dagster here: the asset calls `fetch_partition` and publishes what it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import Enum
from functools import partial
from typing import TypeVar

import pandas as pd
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from qlir_core import candles, manifest
from qlir_core.errors import (
    ChecksumMismatch,
    InvalidSymbol,
    IpBanned,
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
from qlir_core.sources.rest import KlinesPage, RestClient
from qlir_core.storage import PartitionData, RawPayload

T = TypeVar("T")
MAX_ATTEMPTS = 5
_backoff = wait_exponential_jitter(multiplier=0.5, max=30, jitter=0.5)


class SourceMode(Enum):
    AUTO = "auto"  # the archive for days it publishes, REST for recent days and as fallback
    REST = "rest"
    ARCHIVE = "archive"


@dataclass
class Sources:
    mode: SourceMode
    rest: RestClient
    archive: ArchiveClient


def fetch_partition(
    series: Series, day: date, sources: Sources, *, now_ms: int, log: logging.Logger
) -> PartitionData:
    """The partition's final candles, manifest rows and raw payloads. Raises a QlirError
    (nothing to publish) when the day cannot be fetched."""
    use_archive = sources.mode is SourceMode.ARCHIVE or (
        sources.mode is SourceMode.AUTO and day < day_of_ms(now_ms)
    )
    if use_archive:
        try:
            return _from_archive(series, day, sources.archive, now_ms=now_ms, log=log)
        except NotPublished:
            if sources.mode is SourceMode.ARCHIVE:
                raise
            log.info("archive has no %s %s; falling back to REST", series, day)
    return _from_rest(series, day, sources.rest, now_ms=now_ms, log=log)


def _from_archive(
    series: Series, day: date, client: ArchiveClient, *, now_ms: int, log: logging.Logger
) -> PartitionData:
    window = whole_day(series, day)
    attempts: list[ManifestRow] = []
    fetched: ArchiveDay = _with_retries(
        partial(client.fetch, series, day),
        on_failure=partial(_record, attempts, window, Source.ARCHIVE, client.url(series, day)),
        log=log,
    )
    table = _inside(candles.final_only(fetched.candles, now_ms), window)
    status, reason = manifest.classify(window, len(table), now_ms)
    row = ManifestRow(
        slice_key=window.key,
        slice_id=window.slice_id,
        source=Source.ARCHIVE,
        url=fetched.url,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        limit=window.limit,
        status=status,
        reason=reason,
        http_status=None,
        n_candles=len(table),
        first_open_ms=_first_open(table),
        last_open_ms=_last_open(table),
        requested_at=fetched.requested_at,
        completed_at=fetched.completed_at,
        duration_ms=fetched.duration_ms,
        bytes=len(fetched.zip_bytes),
        used_weight=None,
        attempt=len(attempts) + 1,
    )
    log.debug("archive %s: %d candles in %.0f ms", fetched.url, len(table), fetched.duration_ms)
    raw = [
        RawPayload(f"{window.slice_id}.zip", fetched.zip_bytes),
        RawPayload(f"{window.slice_id}.zip.CHECKSUM", fetched.checksum),
    ]
    return PartitionData(series, day, table, [*attempts, row], raw)


def _from_rest(
    series: Series, day: date, client: RestClient, *, now_ms: int, log: logging.Logger
) -> PartitionData:
    rows: list[ManifestRow] = []
    tables: list[pd.DataFrame] = []
    raw: list[RawPayload] = []
    for window in plan_day(series, day):
        if window.start_ms >= now_ms:
            break  # the rest of the day has not begun
        attempts: list[ManifestRow] = []
        page: KlinesPage = _with_retries(
            partial(client.klines, window),
            on_failure=partial(_record, attempts, window, Source.REST, client.klines_url(window)),
            log=log,
        )
        rows.extend(attempts)
        table = _inside(candles.final_only(page.candles, now_ms), window)
        status, reason = manifest.classify(window, len(table), now_ms)
        reply = page.reply
        rows.append(
            ManifestRow(
                slice_key=window.key,
                slice_id=window.slice_id,
                source=Source.REST,
                url=reply.url,
                start_ms=window.start_ms,
                end_ms=window.end_ms,
                limit=window.limit,
                status=status,
                reason=reason,
                http_status=reply.status,
                n_candles=len(table),
                first_open_ms=_first_open(table),
                last_open_ms=_last_open(table),
                requested_at=reply.requested_at,
                completed_at=reply.completed_at,
                duration_ms=reply.duration_ms,
                bytes=len(reply.body),
                used_weight=reply.used_weight,
                attempt=len(attempts) + 1,
            )
        )
        tables.append(table)
        raw.append(RawPayload(f"{window.slice_id}.json", reply.body))
    table = pd.concat(tables, ignore_index=True) if tables else candles.empty()
    return PartitionData(series, day, table, rows, raw)


def _with_retries(
    call: Callable[[], T], *, on_failure: Callable[[QlirError], None], log: logging.Logger
) -> T:
    """Run `call`, retrying temporary errors with capped exponential backoff and jitter, and
    honouring Retry-After on 429. Every failed attempt is reported through `on_failure`."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited):
            return error.retry_after
        return float(_backoff(state))

    def attempt() -> T:
        try:
            return call()
        except QlirError as e:
            on_failure(e)
            if _retryable(e):
                log.warning("%s (will retry)", e)
            raise

    retrying = Retrying(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(MAX_ATTEMPTS),
        wait=wait,
        reraise=True,
    )
    return retrying(attempt)


def _retryable(error: BaseException) -> bool:
    """Temporary errors, except a day the archive does not publish: asking again won't help."""
    return isinstance(error, TemporaryError) and not isinstance(error, NotPublished)


def _record(
    attempts: list[ManifestRow], window: SliceKey, source: Source, url: str, error: QlirError
) -> None:
    """Add a failed attempt to the ledger."""
    now = pd.Timestamp.now(tz="UTC")
    attempts.append(
        ManifestRow(
            slice_key=window.key,
            slice_id=window.slice_id,
            source=source,
            url=url,
            start_ms=window.start_ms,
            end_ms=window.end_ms,
            limit=window.limit,
            status=SliceStatus.FAILED,
            reason=_reason(error),
            http_status=getattr(error, "status", None),
            n_candles=0,
            first_open_ms=None,
            last_open_ms=None,
            requested_at=now,
            completed_at=now,
            duration_ms=0.0,
            bytes=0,
            used_weight=None,
            attempt=len(attempts) + 1,
        )
    )


_REASONS: list[tuple[type[QlirError], StatusReason]] = [
    (RateLimited, StatusReason.RATE_LIMITED),
    (IpBanned, StatusReason.BANNED),
    (InvalidSymbol, StatusReason.INVALID_SYMBOL),
    (ChecksumMismatch, StatusReason.CHECKSUM_MISMATCH),
    (MalformedData, StatusReason.MALFORMED),
    (NotPublished, StatusReason.NOT_PUBLISHED),
    (NetworkError, StatusReason.NETWORK_UNAVAILABLE),
    (ServerError, StatusReason.HTTP_ERROR),
    (RequestRejected, StatusReason.HTTP_ERROR),
]


def _reason(error: QlirError) -> StatusReason:
    return next((r for kind, r in _REASONS if isinstance(error, kind)), StatusReason.HTTP_ERROR)


def _inside(table: pd.DataFrame, window: SliceKey) -> pd.DataFrame:
    """Only the candles that open inside the requested window."""
    opens = candles.open_ms(table)
    keep = (opens >= window.start_ms) & (opens <= window.end_ms)
    return table[keep].reset_index(drop=True)


def _first_open(table: pd.DataFrame) -> int | None:
    return int(candles.open_ms(table)[0]) if len(table) else None


def _last_open(table: pd.DataFrame) -> int | None:
    return int(candles.open_ms(table)[-1]) if len(table) else None
