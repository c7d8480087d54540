"""Whether a fresh fetch may replace what is stored for a partition, and publishing it.

A refetch can come back with less than an earlier fetch stored: the exchange answering short,
a day refetched before it was fully served, a source that lost a stretch. Such a fetch never
replaces the stored candles. A fetch replaces them when it holds every stored open time; then
it is either the same (re-materializing is idempotent), more (a partial day grown, a gap
filled), or the same candles with new values (the exchange's latest word).

Corrections (`CorrectionRule`): by default the exchange is right about a closed day. A refetch
of a day that had ended before the fetch began, every window of it answered in full or
confirmed by two agreeing answers (`ingest.confirm_short_page`), replaces the stored candles
even where it lacks some of them (`Reason.CORRECTED`). Every changed field and removed candle
is logged as a WARN and recorded in the corrections table, and the replaced version stays
readable (`Store.versions`, `Store.read_candles(..., version=...)`).

`publish_partition` reads, decides and publishes under the partition's cross-process lock,
and a fetch older than the stored one (by its latest answer, `versions.fetched_at_ms`) never
replaces it (`Reason.STALE`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
import pandas as pd

from qlir_core import candles, corrections, logs
from qlir_core.intervals import DAY_MS
from qlir_core.manifest import ManifestRow, SliceStatus, StatusReason
from qlir_core.slices import day_start_ms
from qlir_core.storage import PartitionData, Step, Store
from qlir_core.versions import fetched_at_ms

_LOG = logs.logger(__name__)


class Reason(Enum):
    NEW = "new"  # nothing stored yet
    UNCHANGED = "unchanged"  # the same candles
    MORE = "more"  # every stored candle, and more
    REVISED = "revised"  # the same open times, some values changed
    CORRECTED = "corrected"  # some stored candles absent from a settled closed day: published
    FEWER = "fewer"  # fewer candles than stored: kept
    MISSING = "missing"  # as many or more candles, but some stored open times absent: kept
    REFUSED = "refused"  # a correction the rule does not apply: kept
    STALE = "stale"  # fetched before the stored version was: kept

    @property
    def label(self) -> str:
        """How messages show the reason: `fewer`."""
        return self.name.lower()


class CorrectionRule(Enum):
    """What a refetch that changes or removes stored candles does."""

    EXCHANGE = "exchange"  # publish it: values always, removals for a settled closed day
    STORED = "stored"  # keep the stored candles whenever a fetch would change or remove one


@dataclass(frozen=True)
class Decision:
    """Publish the fetch or keep what is stored, and why."""

    publish: bool
    reason: Reason
    new_rows: int
    stored_rows: int
    missing: int = 0  # stored open times the fetch lacks
    changed: int = 0  # open times in both whose candle differs
    persist_ms: float = 0.0  # the whole persist: lock, read, decide and (if published) write

    def __str__(self) -> str:
        verb = "publish" if self.publish else "keep the stored candles"
        detail = f"{self.new_rows} fetched, {self.stored_rows} stored"
        if self.missing:
            detail += f", {self.missing} stored open times not in the fetch"
        if self.changed:
            detail += f", {self.changed} candles changed"
        return f"{verb} ({self.reason.label}: {detail})"


def decide(
    new: PartitionData,
    stored: pd.DataFrame | None,
    *,
    stored_fetched_ms: int | None = None,
    rule: CorrectionRule = CorrectionRule.EXCHANGE,
) -> Decision:
    """Whether `new` may replace `stored` (None: nothing stored), which was fetched at
    `stored_fetched_ms` (None: unknown)."""
    fetched = new.candles
    if stored is None:
        return Decision(True, Reason.NEW, len(fetched), 0)
    new_opens, stored_opens = candles.open_ms(fetched), candles.open_ms(stored)
    missing = int(np.setdiff1d(stored_opens, new_opens).size)
    changed = _changed(fetched, stored)
    sizes = {"new_rows": len(fetched), "stored_rows": len(stored), "missing": missing}
    fetched_ms = fetched_at_ms(new.manifest)
    if fetched_ms is not None and stored_fetched_ms is not None and fetched_ms < stored_fetched_ms:
        return Decision(False, Reason.STALE, changed=changed, **sizes)
    if rule is CorrectionRule.STORED and (missing or changed):
        return Decision(False, Reason.REFUSED, changed=changed, **sizes)
    if missing:
        if settled(new):
            return Decision(True, Reason.CORRECTED, changed=changed, **sizes)
        reason = Reason.FEWER if len(fetched) < len(stored) else Reason.MISSING
        return Decision(False, reason, changed=changed, **sizes)
    if len(np.unique(new_opens)) > len(np.unique(stored_opens)):
        return Decision(True, Reason.MORE, changed=changed, **sizes)
    reason = Reason.REVISED if changed else Reason.UNCHANGED
    return Decision(True, reason, changed=changed, **sizes)


def settled(part: PartitionData) -> bool:
    """True when the fetch is the exchange's settled word on a closed day: it began after the
    day ended, and each window's last answer was full or confirmed (COMPLETE), or confirmed
    empty (NO_DATA). A fetch without ledger rows is never settled."""
    if not part.manifest:
        return False
    day_end = day_start_ms(part.day) + DAY_MS
    if min(_ms(r.requested_at) for r in part.manifest) < day_end:
        return False
    return all(_final(r) for r in _last_attempts(part.manifest))


def publish_partition(
    store: Store,
    part: PartitionData,
    *,
    log: logging.Logger,
    rule: CorrectionRule = CorrectionRule.EXCHANGE,
    step: Step | None = None,
) -> Decision:
    """Read what is stored for `part`'s partition, decide, and publish if the decision says
    so, all under the partition's lock: two processes refreshing one day end with the newer
    fetch. Leftovers of an unfinished earlier publish are deleted first. Logs the decision
    (WARN when kept) and each correction (WARN); `step` is passed to `Store.publish`.

    Timed: the decision's `persist_ms`, a DEBUG `persist` record (qlir_core.logs), and in the
    published ledger's `persist_ms` the time up to writing it."""
    started = time.perf_counter()
    decision = _persist(store, part, log=log, rule=rule, step=step, started=started)
    decision = replace(decision, persist_ms=_elapsed_ms(started))
    _LOG.debug(
        "%s %s: persisted in %.1f ms (%s)",
        part.series,
        part.day.isoformat(),
        decision.persist_ms,
        decision.reason.label,
        extra={
            "event": "persist",
            "series": str(part.series),
            "day": part.day.isoformat(),
            "duration_ms": decision.persist_ms,
            "published": decision.publish,
            "reason": decision.reason.label,
            "rows": decision.new_rows,
        },
    )
    return decision


def _persist(
    store: Store,
    part: PartitionData,
    *,
    log: logging.Logger,
    rule: CorrectionRule,
    step: Step | None,
    started: float,
) -> Decision:
    where = f"{part.series} {part.day.isoformat()}"
    with store.locked(part.series, part.day):
        store.clean(part.series, part.day)
        stored = store.read_candles(part.series, part.day)
        stamp = store.stamp(part.series, part.day)
        decision = decide(
            part,
            stored,
            stored_fetched_ms=None if stamp is None else stamp.fetched_at_ms,
            rule=rule,
        )
        if not decision.publish:
            log.warning("%s: %s", where, decision)
            return decision
        found: Sequence[corrections.Correction] = (
            () if stored is None else corrections.diff(stored, part.candles)
        )
        timed = _timed(store, part, decision, started)
        published = store.publish(timed, corrections=found, step=step)
    if found:
        replaced = "?" if stamp is None else stamp.version
        log.warning(
            "%s: the exchange corrected the stored candles, %d change(s) (version %s -> %s, "
            "the old one kept): %s",
            where,
            len(found),
            replaced,
            published.version,
            corrections.describe(found),
        )
    # Per partition: DEBUG, off the run log (the materialization names the decision).
    _LOG.debug("%s: %s", where, decision)
    return decision


def _timed(store: Store, part: PartitionData, decision: Decision, started: float) -> PartitionData:
    """`part` with the persist time so far on its ledger rows. The same fetch published again
    keeps the stored rows' times, so its ledger, and so its version, stay the same."""
    if decision.reason is Reason.UNCHANGED:
        stored = store.read_manifest(part.series, part.day)
        if stored == part.manifest:  # equal rows, persist times aside
            return replace(part, manifest=stored)
    so_far = _elapsed_ms(started)
    return replace(part, manifest=[replace(r, persist_ms=so_far) for r in part.manifest])


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _changed(fetched: pd.DataFrame, stored: pd.DataFrame) -> int:
    """Candles, by open time, that both tables hold with different values."""
    columns = [c for c in candles.COLUMNS if c != "open_time" and c in stored.columns]
    old = stored.drop_duplicates("open_time", keep="last").set_index("open_time")[columns]
    now = fetched.drop_duplicates("open_time", keep="last").set_index("open_time")[columns]
    common = now.index.intersection(old.index)
    if common.empty:
        return 0
    differs = now.loc[common].ne(old.loc[common]).any(axis=1)
    return int(differs.sum())


def _last_attempts(rows: Sequence[ManifestRow]) -> list[ManifestRow]:
    latest: dict[str, ManifestRow] = {}
    for row in rows:
        if row.slice_key not in latest or row.attempt >= latest[row.slice_key].attempt:
            latest[row.slice_key] = row
    return list(latest.values())


def _final(row: ManifestRow) -> bool:
    if row.status is SliceStatus.COMPLETE:
        return True
    return row.status is SliceStatus.EMPTY and row.reason is StatusReason.NO_DATA


def _ms(when: pd.Timestamp) -> int:
    return int(pd.Timestamp(when).value // 1_000_000)
