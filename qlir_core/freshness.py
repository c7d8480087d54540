"""Is a series current? What the store holds for it, and the two promises qlir makes:

- the current day is refreshed on its cadence (the current-day schedule, every 15 minutes):
  the last stored candle closed no longer ago than the cadence plus one interval plus a grace;
- a closed day is stored, whole, by 01:00 UTC the next day (the daily schedule runs at 00:15).

The survey reads the store only (one listing per series, the last day's candles and ledger),
so it is right after a restart and the same for the Dagster check, `qlir health` and metrics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from qlir_core.binance import day_of_ms, day_start_ms
from qlir_core.manifest import SliceStatus
from qlir_core.series import Series
from qlir_core.storage import Store

CADENCE_MS = 15 * 60_000  # the current-day schedule's period
GRACE_MS = 5 * 60_000  # a run's own time
CLOSED_BY_MS = 60 * 60_000  # after midnight UTC, when yesterday must be stored


@dataclass(frozen=True)
class Survey:
    """What the store holds for one series."""

    series: Series
    days: tuple[date, ...]  # stored days, in order
    last_close_ms: int | None  # close time of the last stored candle
    partial: frozenset[date]  # of the last RECENT stored days, those stored partial


RECENT = 3  # today, yesterday and the day before: the days a promise is about


def survey(store: Store, series: Series) -> Survey:
    days = tuple(store.stored_days(series))
    if not days:
        return Survey(series, (), None, frozenset())
    candles = store.read_candles(series, days[-1])
    last_close = None
    if candles is not None and len(candles):
        last_close = int(candles["close_time"].max().value // 1_000_000)
    partial = set()
    for day in days[-RECENT:]:
        rows = store.read_manifest(series, day) or []
        if any(r.status is SliceStatus.PARTIAL for r in rows):
            partial.add(day)
    return Survey(series, days, last_close, frozenset(partial))


def lag_ms(state: Survey, now_ms: int) -> int | None:
    """How long ago the last stored candle closed (None: nothing stored)."""
    return None if state.last_close_ms is None else now_ms - state.last_close_ms


def allowed_lag_ms(series: Series, cadence_ms: int = CADENCE_MS) -> int:
    return cadence_ms + series.interval.ms + GRACE_MS


def due_day(now_ms: int) -> date:
    """The latest closed day that must be stored by now."""
    today = day_of_ms(now_ms)
    late = now_ms - day_start_ms(today) >= CLOSED_BY_MS
    return today - timedelta(days=1 if late else 2)


def problems(state: Survey, now_ms: int, start: date, cadence_ms: int = CADENCE_MS) -> list[str]:
    """One line per broken promise (none: the series is fresh)."""
    found = []
    lag = lag_ms(state, now_ms)
    allowed = allowed_lag_ms(state.series, cadence_ms)
    if lag is None:
        found.append(f"{state.series}: nothing is stored")
    elif lag > allowed:
        found.append(
            f"{state.series}: the last stored candle closed {_span(lag)} ago, more than "
            f"{_span(allowed)} (the current day is refreshed every {_span(cadence_ms)})"
        )
    due = due_day(now_ms)
    if due >= start and lag is not None:
        if due not in state.days:
            found.append(f"{state.series}: the closed day {due} is not stored (due by 01:00 UTC)")
        elif due in state.partial:
            found.append(f"{state.series}: the closed day {due} is stored partial only")
    return found


def all_problems(
    store: Store, series: Iterable[Series], now_ms: int, start: date
) -> dict[Series, list[str]]:
    return {s: problems(survey(store, s), now_ms, start) for s in series}


def _span(ms: int) -> str:
    """`2 h 5 min`, `21 min`, `40 s`."""
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"
