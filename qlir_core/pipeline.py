"""One partition through the pipeline: fetch, validate, publish, and say what is stored after.

    ingest_partition(series, day, sources, store, now_ms=…, log=…) -> Outcome
    ingest_partitions(parts, sources, store, workers=…, log=…) -> Iterator[Outcome]

Many partitions go through several at a time (`ingest_partitions`): the waits on the network
overlap, while each partition is still fetched, validated and published on its own.

The outcome's report describes what storage holds once the step is over, not what was fetched:
a kept refetch reports the stored candles. No Dagster here; the klines asset turns outcomes into
events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime

from qlir_core import logs
from qlir_core.errors import IpBanned, QlirError
from qlir_core.ingest import Sources, fetch_partition
from qlir_core.manifest import ManifestRow, SliceStatus, Source
from qlir_core.publish import Decision, publish_partition
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.validation import PartitionReport, validate_partition

# DEBUG records of each partition's validation and outcome, timed (the log file's events).
_EVENTS = logs.logger(__name__)


@dataclass(frozen=True)
class Fetched:
    """How the fetch went: its source, requests and time, whatever came of it."""

    source: Source | None  # the source of the last request; None when nothing was asked
    requests: int
    seconds: float  # the whole partition: fetch, validation and persist
    request_ms: float = 0.0  # the requests' own durations, summed
    validate_ms: float = 0.0


@dataclass(frozen=True)
class Stored:
    """The fetch was published; `report` validates it (it is what storage holds)."""

    series: Series
    day: date
    report: PartitionReport
    decision: Decision
    partial: bool  # the day had not closed when it was fetched
    source: Source | None  # of the stored candles' last request
    fetched: Fetched


@dataclass(frozen=True)
class KeptPrevious:
    """The fetch was valid but not published; `report` validates the candles kept."""

    series: Series
    day: date
    report: PartitionReport
    decision: Decision
    partial: bool  # of what is stored
    source: Source | None  # of the stored candles' last request
    fetched: Fetched


@dataclass(frozen=True)
class Refused:
    """Nothing was published: the fetch failed (`error`) or failed validation (`report`)."""

    series: Series
    day: date
    reason: str
    fetched: Fetched
    report: PartitionReport | None = None
    error: QlirError | None = None

    @property
    def banned(self) -> bool:
        """The exchange banned the IP: every later request would be refused the same way."""
        return isinstance(self.error, IpBanned)


Outcome = Stored | KeptPrevious | Refused


def ingest_partition(
    series: Series,
    day: date,
    sources: Sources,
    store: Store,
    *,
    now_ms: int,
    log: logging.Logger,
) -> Outcome:
    """Fetch one partition, validate it, publish it unless the stored one must stay. `sources`
    and `store` are of one endpoint."""
    if sources.endpoint is not store.endpoint:
        raise ValueError(f"{sources.endpoint} candles cannot go into {store!r}")
    outcome = _ingest(series, day, sources, store, now_ms=now_ms, log=log)
    _EVENTS.debug(
        "%s %s: %s in %.0f ms",
        series,
        day,
        type(outcome).__name__,
        outcome.fetched.seconds * 1000,
        extra=_event("partition", series, day, outcome.fetched.seconds * 1000),
    )
    return outcome


def _ingest(
    series: Series,
    day: date,
    sources: Sources,
    store: Store,
    *,
    now_ms: int,
    log: logging.Logger,
) -> Outcome:
    started = time.perf_counter()
    ledger: list[ManifestRow] = []
    took_ms = 0.0  # validation's, once it has run

    def fetched() -> Fetched:
        source = ledger[-1].source if ledger else None
        return Fetched(
            source,
            len(ledger),
            round(time.perf_counter() - started, 3),
            request_ms=round(sum(r.duration_ms for r in ledger), 1),
            validate_ms=round(took_ms, 1),
        )

    try:
        part = fetch_partition(series, day, sources, now_ms=now_ms, log=log, ledger=ledger)
    except QlirError as e:
        return Refused(series, day, str(e), fetched(), error=e)
    validating = time.perf_counter()
    report = validate_partition(
        series, day, part.candles, part.manifest, now_ms=now_ms, endpoint=store.endpoint
    )
    took_ms = (time.perf_counter() - validating) * 1000
    _EVENTS.debug(
        "%s %s: validated in %.0f ms", series, day, took_ms,
        extra=_event("validate", series, day, took_ms),
    )  # fmt: skip
    if not report.passed():
        rules = ", ".join(f.rule.name for f in report.errors)
        reason = f"failed validation ({rules}); what was stored before is kept"
        return Refused(series, day, reason, fetched(), report=report)
    try:
        decision = publish_partition(store, part, log=log)
    except QlirError as e:
        return Refused(series, day, f"not published: {e}", fetched(), report=report, error=e)
    if decision.publish:
        done = fetched()
        partial = is_partial(part.manifest)
        return Stored(series, day, report, decision, partial, done.source, done)
    return _kept(store, series, day, decision, now_ms, fetched())


def ingest_partitions(
    parts: Iterable[tuple[Series, date]],
    sources: Sources,
    store: Store,
    *,
    workers: int,
    log: logging.Logger,
    clock: Callable[[], int] | None = None,
) -> Generator[Outcome]:
    """Each (series, day) through `ingest_partition`, up to `workers` at once, yielded as each
    is done. The sources' clients and the request-weight budget are shared by the threads. No
    partition starts after one is refused for a ban (every request would be refused alike); the
    ones not started are not yielded. `clock` gives the time (ms) a partition starts at."""
    now = clock or now_ms
    todo = iter(parts)
    running: set[Future[Outcome]] = set()
    banned = False
    with ThreadPoolExecutor(workers, thread_name_prefix="qlir-ingest") as pool:

        def start(series: Series, day: date) -> Outcome:
            return ingest_partition(series, day, sources, store, now_ms=now(), log=log)

        while True:
            while not banned and len(running) < workers and (part := next(todo, None)):
                running.add(pool.submit(start, *part))
            if not running:
                return
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for outcome in sorted((f.result() for f in done), key=_order):
                banned = banned or (isinstance(outcome, Refused) and outcome.banned)
                yield outcome


def _event(name: str, series: Series, day: date, duration_ms: float) -> dict[str, object]:
    """A timed record's fields (qlir_core.logs describes them)."""
    return {"event": name, "series": series.key, "day": day.isoformat(), "duration_ms": duration_ms}


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def _order(outcome: Outcome) -> tuple[str, date]:
    return outcome.series.key, outcome.day


def is_partial(rows: list[ManifestRow]) -> bool:
    """A day whose ledger has a window still forming or not begun."""
    return any(r.status is SliceStatus.PARTIAL for r in rows)


def _kept(
    store: Store, series: Series, day: date, decision: Decision, now_ms: int, fetched: Fetched
) -> KeptPrevious:
    """What storage still holds, validated as a checks-only run would."""
    candles = store.read_candles(series, day)
    rows = store.read_manifest(series, day) or []
    if candles is None:  # kept means something is stored; guard a store emptied meanwhile
        raise RuntimeError(f"{series} {day}: the kept candles are no longer stored")
    report = validate_partition(series, day, candles, rows, now_ms=now_ms, endpoint=store.endpoint)
    source = rows[-1].source if rows else None
    return KeptPrevious(series, day, report, decision, is_partial(rows), source, fetched)
