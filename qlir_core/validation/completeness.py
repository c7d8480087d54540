"""Completeness: the candles due by now against the table, each missing one classified by the
slice that should have brought it, and each slice's ledger counts against the table."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qlir_core.manifest import SliceStatus, StatusReason
from qlir_core.validation.context import Findings, Partition
from qlir_core.validation.report import FailureCase, GapRun, iso
from qlir_core.validation.rules import GAP_RULE, GapCause, Rule
from qlir_core.validation.slice_rules import Slice

Ms = npt.NDArray[np.int64]
_CAUSES = tuple(GapCause)
_CODE = {kind: code for code, kind in enumerate(_CAUSES)}
# What a slice's outcome says about a candle it should have brought but the table lacks.
_SERVED_NOTHING = {
    (SliceStatus.COMPLETE, StatusReason.HISTORICAL_SPARSITY),  # fewer candles than asked: a halt
    (SliceStatus.EMPTY, StatusReason.NO_DATA),  # a past window with no candles at all
}
_NOT_FINAL = {
    (SliceStatus.PARTIAL, StatusReason.STILL_FORMING),
    (SliceStatus.EMPTY, StatusReason.AWAITING_UPSTREAM),
}


def check_completeness(
    opens: Ms, latest: list[Slice], covered_until: int, part: Partition, found: Findings
) -> tuple[GapRun, ...]:
    """Missing candles as runs, one cause and one covering slice per run. `covered_until` is
    where the latest non-failed slices stop covering the day (see check_spacing)."""
    due = part.expected_rows
    step = part.interval_ms
    slot = (opens - part.start_ms) // step
    fits = (opens >= part.start_ms) & ((opens - part.start_ms) % step == 0) & (slot < due)
    have = np.zeros(due, dtype=bool)
    have[slot[fits]] = True
    missing = np.flatnonzero(~have)
    if not missing.size:
        for rule in GAP_RULE.values():
            found.add(rule, 0)
        return ()
    times = part.start_ms + missing.astype(np.int64) * step
    # uncovered: pending past the requested part of an open day, a fetch gap otherwise
    pending = part.is_open & (times >= covered_until)
    cause = np.where(pending, _CODE[GapCause.PENDING], _CODE[GapCause.FETCH]).astype(np.int8)
    which = np.full(times.size, -1, dtype=np.intp)
    ordered = sorted(latest, key=lambda s: s.status is not SliceStatus.FAILED)  # failed first
    explained = [_explain(s, part) for s in ordered]
    for i, s in enumerate(ordered):
        inside = (times >= s.key.start_ms) & (times < s.end_ms)
        cause[inside] = _CODE[explained[i][0]]
        which[inside] = i
    runs: list[tuple[GapRun, str]] = []
    for first, last in _runs(missing, cause, which):
        kind, covering = _CAUSES[cause[first]], int(which[first])
        note = explained[covering][1] if covering >= 0 else _uncovered(kind)
        key = ordered[covering].text if covering >= 0 else None
        run = GapRun(int(times[first]), int(times[last]), last - first + 1, kind, key)
        runs.append((run, note))
    for kind, rule in GAP_RULE.items():
        found.add(
            rule,
            int((cause == _CODE[kind]).sum()),
            (
                FailureCase(
                    f"{run.count} candle(s) missing from {iso(run.first_missing_ms)} to "
                    f"{iso(run.last_missing_ms)}: {note}",
                    str(run.count),
                    "open_time",
                    run.slice_key,
                    run.first_missing_ms,
                )
                for run, note in runs
                if run.cause is kind
            ),
        )
    return tuple(run for run, _ in runs)


def _explain(s: Slice, part: Partition) -> tuple[GapCause, str]:
    outcome = (s.status, s.reason)
    if s.status is SliceStatus.FAILED:
        return GapCause.FETCH, f"the latest attempt at the slice failed ({s.outcome})"
    if outcome in _SERVED_NOTHING:
        return GapCause.EXCHANGE, f"the source served no candle there (slice {s.outcome})"
    if outcome in _NOT_FINAL:
        if part.is_open:
            return GapCause.PENDING, f"closed after the fetch (slice {s.outcome})"
        return GapCause.FETCH, f"the slice was {s.outcome} and never fetched again"
    if outcome == (SliceStatus.COMPLETE, StatusReason.NONE):
        return GapCause.FETCH, "the slice was complete, yet the table lacks them"
    return GapCause.FETCH, f"the slice is {s.outcome}"


def _uncovered(kind: GapCause) -> str:
    if kind is GapCause.PENDING:
        return "not requested yet"
    return "no non-failed slice covers them"


def _runs(
    missing: npt.NDArray[np.intp], cause: npt.NDArray[np.int8], which: npt.NDArray[np.intp]
) -> list[tuple[int, int]]:
    """(first, last) positions in `missing` of consecutive slots with one cause and slice."""
    cut = (np.diff(missing) != 1) | (np.diff(cause) != 0) | (np.diff(which) != 0)
    starts = np.concatenate(([0], np.flatnonzero(cut) + 1))
    ends = np.concatenate((starts[1:], [missing.size])) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def check_slice_candles(sorted_opens: Ms, latest: list[Slice], found: Findings) -> None:
    """Each latest non-failed slice: the ledger's n_candles, first and last open time are what
    the table holds inside the slice's window."""
    cases: list[FailureCase] = []
    bad = 0
    served = [s for s in latest if s.status not in (None, SliceStatus.FAILED)]
    bounds = np.array([(s.key.start_ms, s.end_ms) for s in served], dtype=np.int64)
    lows, highs = np.searchsorted(sorted_opens, bounds.reshape(-1, 2).T, side="left")
    for s, lo, hi in zip(served, lows.tolist(), highs.tolist(), strict=True):
        n = hi - lo
        held = (
            n,
            int(sorted_opens[lo]) if n else None,
            int(sorted_opens[hi - 1]) if n else None,
        )
        said = (s.n_candles, s.first_open_ms, s.last_open_ms)
        faults = [
            (name, a, b)
            for name, a, b in zip(
                ("n_candles", "first_open_ms", "last_open_ms"), said, held, strict=True
            )
            if a != b
        ]
        bad += bool(faults)
        cases.extend(
            FailureCase(f"the ledger says {a}, the table holds {b}", str(a), name, s.text)
            for name, a, b in faults
        )
    found.add(Rule.SLICE_CANDLES, bad, cases)
