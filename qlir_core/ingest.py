"""Fetching one (series, day) partition from the archive or REST, with its manifest rows.

No Dagster here: the asset calls `fetch_partition` and publishes what it returns. Every attempt
at every request is a manifest row, failed ones included. What is asked again is what the error
tree (qlir_core.errors) calls temporary, and nothing else; per request, with tenacity:

- 5xx, timeouts, refused or reset connections, a malformed REST body (MalformedPage): asked
  again after a capped exponential backoff with equal jitter (RetryPolicy), five tries at most.
  A malformed page is rejected whole: its candles are never stored.
- 429: asked again once the shared budget's Retry-After pause is over (the budget holds every
  request back, so there is no backoff of its own); ten at most, counted apart from the tries.
- 418 (IpBanned), any other 4xx, the archive's 404 (NotPublished), a malformed archive file
  (MalformedFile), a checksum mismatch: not asked again.
- A closed REST window answered with fewer candles than asked: asked again until two answers
  agree (`confirm_short_page`); each answer is one of the request's tries.

In AUTO, a closed day the archive cannot give (not published, unusable, or still failing with
5xx or no answer once its tries are spent) is fetched from REST; the archive's rows stay in the
manifest before REST's. Before the first REST page the client reads the request-weight limit
from exchangeInfo (`RestClient.calibrate`; a failure keeps Binance's default and is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import TypeVar
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tenacity.wait import wait_exponential, wait_random_exponential

from qlir_core import candles, logs, manifest
from qlir_core.binance import KLINES_WEIGHT, Endpoint
from qlir_core.errors import (
    ChecksumMismatch,
    InvalidSymbol,
    IpBanned,
    Malformation,
    MalformedData,
    MalformedFile,
    MalformedPage,
    NetworkError,
    NotPublished,
    QlirError,
    RateLimited,
    RequestRejected,
    ServerError,
    TemporaryError,
    UnconfirmedPage,
)
from qlir_core.manifest import ManifestRow, SliceStatus, Source, StatusReason
from qlir_core.pacing import Budget
from qlir_core.series import Series
from qlir_core.slices import SliceKey, day_of_ms, plan_day, whole_day
from qlir_core.sources.archive import ArchiveClient, ArchiveDay
from qlir_core.sources.rest import Reply, RestClient, parse_klines
from qlir_core.storage import PartitionData, RawPayload

T = TypeVar("T")
Record = Callable[[ManifestRow], None]
# One DEBUG record per attempt (the log file's `request` events); never the run log's default.
_REQUESTS = logs.logger(__name__)


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
        """None after a 429: the shared budget holds every request back until its Retry-After.
        Else equal jitter: half the capped exponential step, plus up to as much again at
        random, so that parallel workers failing together do not come back together."""
        if state.outcome is not None and isinstance(state.outcome.exception(), RateLimited):
            return 0.0
        half = {"multiplier": self.backoff_s / 2, "max": self.max_backoff_s / 2}
        return float((wait_exponential(**half) + wait_random_exponential(**half))(state))


DEFAULT_RETRY = RetryPolicy()


@dataclass
class Sources:
    """Where one endpoint's candles come from. An endpoint the archive does not publish
    (uiKlines) is fetched from REST whatever the mode."""

    mode: SourceMode
    rest: RestClient
    archive: ArchiveClient
    retry: RetryPolicy | None = None  # None: DEFAULT_RETRY
    endpoint: Endpoint = Endpoint.KLINES


@dataclass(frozen=True)
class SourceSpec:
    """How to open one endpoint's Sources, in this process or in another (it pickles; open
    clients do not)."""

    mode: SourceMode
    rest_url: str
    archive_url: str
    endpoint: Endpoint = Endpoint.KLINES
    budget_store: str | None = None  # `file` or redis://…; None: $QLIR_BUDGET_STORE, else file
    retry: RetryPolicy | None = None

    @contextmanager
    def open(self) -> Iterator[Sources]:
        """The clients (closed on exit); an endpoint the archive does not publish is REST."""
        mode = self.mode if self.endpoint.archived else SourceMode.REST
        budget = Budget.for_url(self.rest_url, store=self.budget_store)
        with (
            RestClient(self.rest_url, budget=budget) as rest,
            ArchiveClient(self.archive_url) as archive,
        ):
            yield Sources(mode, rest, archive, retry=self.retry, endpoint=self.endpoint)


@dataclass(frozen=True)
class Answer:
    """A clean answer to one REST window: its final candles and the reply they came in."""

    table: pd.DataFrame
    reply: Reply

    @property
    def opens(self) -> frozenset[int]:
        return frozenset(candles.open_ms(self.table).tolist())


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
    use_archive = sources.endpoint.archived and (
        sources.mode is SourceMode.ARCHIVE
        or (sources.mode is SourceMode.AUTO and day < day_of_ms(now_ms))
    )
    if use_archive:
        try:
            table, raw = fetch.archive(series, day, sources.archive)
            return PartitionData(series, day, table, rows, raw)
        except (NotPublished, ChecksumMismatch, MalformedFile, TemporaryError) as e:
            if sources.mode is SourceMode.ARCHIVE:
                raise
            if isinstance(e, NotPublished):
                log.info("archive has no %s %s; falling back to REST", series, day)
            elif isinstance(e, TemporaryError):  # its tries are spent (see _Request.ask)
                log.warning(
                    "archive unavailable for %s %s (%s); falling back to REST", series, day, e
                )
            else:
                log.warning(
                    "archive file for %s %s unusable (%s); falling back to REST", series, day, e
                )
    table, raw = fetch.rest(series, day, sources.rest, sources.endpoint)
    return PartitionData(series, day, table, rows, raw)


def check_page(
    table: pd.DataFrame,
    window: SliceKey,
    source: str,
    *,
    malformed: type[MalformedData] = MalformedPage,
) -> pd.DataFrame:
    """`table` when its candles open inside `window`, each once, in ascending order; else
    `malformed` (a MalformedPage for a REST body, a MalformedFile for an archive file) naming
    the first fault. Such a page is never stored."""
    opens = candles.open_ms(table)
    if len(opens) == 0:
        return table
    values, counts = np.unique(opens, return_counts=True)
    if (counts > 1).any():
        raise malformed(
            f"{source}: a candle is sent twice (open time {_iso(int(values[counts > 1][0]))})",
            Malformation.DUPLICATE,
        )
    steps = np.diff(opens)
    if (steps < 0).any():
        i = int(np.argmax(steps < 0)) + 1
        raise malformed(
            f"{source}: candle #{i} ({_iso(int(opens[i]))}) opens before the one before it "
            f"({_iso(int(opens[i - 1]))})",
            Malformation.OUT_OF_ORDER,
        )
    outside = opens[(opens < window.start_ms) | (opens > window.end_ms)]
    if len(outside):
        raise malformed(
            f"{source}: a candle opens at {_iso(int(outside[0]))}, outside the window asked for "
            f"({_iso(window.start_ms)} … {_iso(window.end_ms)})",
            Malformation.OUTSIDE_WINDOW,
        )
    return table


def confirm_short_page(window: SliceKey, answers: Iterable[Answer]) -> Answer:
    """The answer to a closed `window` that may be stored: the first full one, or the first
    short one an earlier answer matches open time for open time. A real gap (a halt) answers
    the same twice; candles lost on the way do not. Each step through `answers` asks the
    exchange again; UnconfirmedPage when they run out with no two short answers alike."""
    seen: set[frozenset[int]] = set()
    for answer in answers:
        if len(answer.table) >= window.limit or answer.opens in seen:
            return answer
        seen.add(answer.opens)
    raise UnconfirmedPage(
        f"{window.key}: {len(seen)} answers with fewer than {window.limit} candles for a "
        "closed window, no two alike (candles lost on the way?)"
    )


@dataclass
class _Request:
    """One request (a REST window or an archive day) and its attempts, each a manifest row.

    The rows are the tally the retry policy counts: tries (429s aside) and 429s."""

    window: SliceKey
    source: Source
    url: str
    policy: RetryPolicy
    record: Record
    log: logging.Logger
    rows: list[ManifestRow] = field(default_factory=list)

    @property
    def number(self) -> int:
        """The number of the attempt about to be made (1 for the first)."""
        return len(self.rows) + 1

    @property
    def spent(self) -> bool:
        """True once `policy.attempts` tries or `policy.rate_limited` 429s have been made."""
        limited = sum(r.reason is StatusReason.RATE_LIMITED for r in self.rows)
        tries = len(self.rows) - limited
        return tries >= self.policy.attempts or limited >= self.policy.rate_limited

    def add(self, row: ManifestRow) -> None:
        self.rows.append(row)
        self.record(row)
        _log_request(self.window, row)

    def ask(self, attempt: Callable[[], T]) -> T:
        """One answer: `attempt` (which records its row) asked again while it fails with a
        TemporaryError and the request has tries left."""
        retrying = Retrying(
            retry=retry_if_exception_type(TemporaryError),
            stop=self._out_of_tries,
            wait=self.policy.wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        return retrying(attempt)

    def answers(self, attempt: Callable[[], T]) -> Iterator[T]:
        """Answer after answer (each by `ask`) for as long as the request has tries left."""
        while not self.spent:
            yield self.ask(attempt)

    def _out_of_tries(self, state: RetryCallState) -> bool:
        return self.spent

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        self.log.warning("%s (attempt %d; again in %.1f s)", error, len(self.rows), wait_s)


class _Fetch:
    """One partition's fetching: the retry policy, the clock and where rows are recorded."""

    def __init__(
        self, policy: RetryPolicy, now_ms: int, record: Record, log: logging.Logger
    ) -> None:
        self.policy = policy
        self.now_ms = now_ms
        self.record = record
        self.log = log

    def _request(self, window: SliceKey, source: Source, url: str) -> _Request:
        return _Request(window, source, url, self.policy, self.record, self.log)

    def archive(
        self, series: Series, day: date, client: ArchiveClient
    ) -> tuple[pd.DataFrame, list[RawPayload]]:
        window = whole_day(series, day)
        request = self._request(window, Source.ARCHIVE, client.url(series, day))

        def attempt() -> tuple[ArchiveDay, pd.DataFrame]:
            number, requested_at = request.number, _now()
            try:
                fetched = client.fetch(series, day)
                table = check_page(fetched.candles, window, fetched.url, malformed=MalformedFile)
            except QlirError as e:
                request.add(_failed(request, number, requested_at, e, None))
                raise
            table = candles.final_only(table, self.now_ms)
            request.add(
                _row(
                    request,
                    number,
                    table,
                    manifest.classify(window, len(table), self.now_ms),
                    url=fetched.url,
                    requested_at=fetched.requested_at,
                    completed_at=fetched.completed_at,
                    duration_ms=fetched.duration_ms,
                    size=len(fetched.zip_bytes),
                )
            )
            return fetched, table

        fetched, table = request.ask(attempt)
        raw = [
            RawPayload(f"{window.slice_id}.zip", fetched.zip_bytes),
            RawPayload(f"{window.slice_id}.zip.CHECKSUM", fetched.checksum),
        ]
        return table, raw

    def rest(
        self, series: Series, day: date, client: RestClient, endpoint: Endpoint
    ) -> tuple[pd.DataFrame, list[RawPayload]]:
        tables: list[pd.DataFrame] = []
        raw: list[RawPayload] = []
        begun = [w for w in plan_day(series, day) if w.start_ms < self.now_ms]
        if begun:  # pace the first page to the exchange's limit, not a guess (once per client)
            client.calibrate(series.symbol, log=self.log)
        for window in begun:
            answer = self._rest_window(window, client, endpoint)
            tables.append(answer.table)
            raw.append(RawPayload(f"{window.slice_id}.json", answer.reply.body))
        table = pd.concat(tables, ignore_index=True) if tables else candles.empty()
        return table, raw

    def _rest_window(self, window: SliceKey, client: RestClient, endpoint: Endpoint) -> Answer:
        request = self._request(window, Source.REST, client.klines_url(window, endpoint))

        def attempt() -> Answer:
            number, requested_at = request.number, _now()
            reply: Reply | None = None
            try:
                reply = client.send(request.url, KLINES_WEIGHT)
                page = check_page(parse_klines(reply), window, request.url)
            except QlirError as e:
                request.add(_failed(request, number, requested_at, e, reply))
                raise
            answer = Answer(candles.final_only(page, self.now_ms), reply)
            outcome = manifest.classify(window, len(answer.table), self.now_ms)
            request.add(_replied(request, number, answer.table, outcome, reply))
            return answer

        answers = request.answers(attempt)
        if self.now_ms > window.end_ms:  # closed: a short answer must be confirmed
            return confirm_short_page(window, answers)
        return next(answers)


def _log_request(window: SliceKey, row: ManifestRow) -> None:
    if not _REQUESTS.isEnabledFor(logging.DEBUG):
        return
    path, status = urlsplit(row.url).path, row.http_status or 0
    _REQUESTS.debug(
        "%s %s -> %s: %d candles in %.0f ms (attempt %d)",
        row.source.name,
        path,
        status or row.reason.name,
        row.n_candles,
        row.duration_ms,
        row.attempt,
        extra={
            "event": "request",
            "series": window.series.key,
            "day": day_of_ms(window.start_ms).isoformat(),
            "duration_ms": row.duration_ms,
            "source": row.source.value,
            "path": path,
            "status": status,
            "attempt": row.attempt,
            "weight": row.used_weight,
            "bytes": row.bytes,
        },
    )


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _row(
    request: _Request,
    number: int,
    table: pd.DataFrame,
    outcome: tuple[SliceStatus, StatusReason],
    *,
    url: str,
    requested_at: pd.Timestamp,
    completed_at: pd.Timestamp,
    duration_ms: float,
    size: int,
    http_status: int | None = None,
    used_weight: int | None = None,
) -> ManifestRow:
    window = request.window
    status, reason = outcome
    opens = candles.open_ms(table)
    return ManifestRow(
        slice_key=window.key,
        slice_id=window.slice_id,
        source=request.source,
        url=url,
        start_ms=window.start_ms,
        end_ms=window.end_ms,
        limit=window.limit,
        status=status,
        reason=reason,
        http_status=http_status,
        n_candles=len(table),
        first_open_ms=int(opens[0]) if len(opens) else None,
        last_open_ms=int(opens[-1]) if len(opens) else None,
        requested_at=requested_at,
        completed_at=completed_at,
        duration_ms=duration_ms,
        bytes=size,
        used_weight=used_weight,
        attempt=number,
    )


def _replied(
    request: _Request,
    number: int,
    table: pd.DataFrame,
    outcome: tuple[SliceStatus, StatusReason],
    reply: Reply,
) -> ManifestRow:
    """The row of an attempt that got a reply: a clean one, or a failed one."""
    return _row(
        request,
        number,
        table,
        outcome,
        url=reply.url,
        requested_at=reply.requested_at,
        completed_at=reply.completed_at,
        duration_ms=reply.duration_ms,
        size=len(reply.body),
        http_status=reply.status,
        used_weight=reply.used_weight,
    )


def _failed(
    request: _Request,
    number: int,
    requested_at: pd.Timestamp,
    error: QlirError,
    reply: Reply | None,
) -> ManifestRow:
    """The row of a failed attempt: its reason, and what came back if anything did."""
    outcome, nothing = (SliceStatus.FAILED, reason_of(error)), candles.empty()
    if reply is not None:
        return _replied(request, number, nothing, outcome, reply)
    completed = _now()
    return _row(
        request,
        number,
        nothing,
        outcome,
        url=request.url,
        requested_at=requested_at,
        completed_at=completed,
        duration_ms=(completed - requested_at).total_seconds() * 1000,
        size=0,
        http_status=getattr(error, "status", None),
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
# Each kind of malformed payload is its own reason in the manifest.
MALFORMED_REASONS: dict[Malformation, StatusReason] = {
    Malformation.TRUNCATED_BODY: StatusReason.TRUNCATED_BODY,
    Malformation.NOT_KLINES: StatusReason.NOT_KLINES,
    Malformation.FIELD_COUNT: StatusReason.BAD_FIELD_COUNT,
    Malformation.NON_NUMERIC: StatusReason.NON_NUMERIC_FIELD,
    Malformation.OUT_OF_ORDER: StatusReason.OUT_OF_ORDER,
    Malformation.DUPLICATE: StatusReason.DUPLICATE_CANDLES,
    Malformation.OUTSIDE_WINDOW: StatusReason.OUTSIDE_WINDOW,
    Malformation.BAD_ZIP: StatusReason.BAD_ZIP,
    Malformation.TRUNCATED_CSV: StatusReason.TRUNCATED_CSV,
    Malformation.BAD_CSV: StatusReason.BAD_CSV,
    Malformation.OTHER: StatusReason.MALFORMED,
}


def reason_of(error: QlirError) -> StatusReason:
    """The manifest's reason for an attempt that failed with `error`."""
    if isinstance(error, MalformedData):
        return MALFORMED_REASONS[error.kind]
    return next((r for kind, r in _REASONS if isinstance(error, kind)), StatusReason.HTTP_ERROR)


def _iso(ms: int) -> str:
    return pd.Timestamp(ms, unit="ms", tz="UTC").isoformat()
