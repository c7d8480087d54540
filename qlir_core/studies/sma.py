"""SMA trend legs (docs/STUDIES.md, "SMA study"): how long runs of a rising or falling SMA last.

The candle table is one series' whole history as one gap-aware sequence: a leg crossing midnight is
one leg, a leg never crosses a gap. Everything is vectorized over numpy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms as candle_open_ms
from qlir_core.indicators import BoolArray, FloatArray, IntArray, follows_previous, sma
from qlir_core.intervals import DAY_MS
from qlir_core.studies import leg_stats
from qlir_core.studies.marks import MARK_COLUMNS, window_marks
from qlir_core.studies.tails import TAIL_LEVELS, threshold

DEFAULT_WINDOWS = (14, 50, 200)

LEG_COLUMNS = (
    "series",
    "window",
    "direction",
    "leg_id",
    "start_time",
    "end_time",
    "length",
    "first_price",
    "last_price",
    "move_bps",
    "mfe_bps",
    "mfe_index",
)
SURVIVAL_COLUMNS = (
    "series",
    "window",
    "direction",
    "n",
    "legs_at_least",
    "survival",
    "continuation",
)
SUMMARY_COLUMNS = (
    "series",
    "window",
    "direction",
    "legs",
    "length_mean",
    "length_p50",
    "length_p90",
    "length_p95",
    "length_p99",
    "length_max",
    *TAIL_LEVELS,
    "legs_per_day_mean",
    "legs_per_day_median",
    "mfe_mean_bps",
    "mfe_median_bps",
)
MFE_TIMING_COLUMNS = (
    *("series", "window", "direction"),
    *("t", "legs_running", "mfe_done", "share_done"),
)
PERIOD_COLUMNS = ("series", "window", "direction", "days", "legs", "periods", "share")


class Direction(Enum):
    """The direction of a leg; the value is its spelling in tables."""

    UP = "up"
    DOWN = "down"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.UP else -1


@dataclass(frozen=True)
class SmaStudy:
    """The study's tables; each row is keyed by (series, window, direction).

    legs:     one row per leg (LEG_COLUMNS), by window, direction (up, down) and start time;
              leg_id counts from 0 per (series, window, direction); mfe_index is 0-based.
    survival: S(N) and c(N) for N = 1 … max L + 1 (SURVIVAL_COLUMNS); c is NaN where S(N) = 0.
    summary:  one row per (series, window, direction) (SUMMARY_COLUMNS), also without legs
              (legs 0, the rest missing); legs per day count every UTC day that has a candle;
              a tail threshold beyond the longest leg is missing (not observed).
    marks:    one row per (window, candle) (MARK_COLUMNS), without look-ahead.
    mfe_timing:      the share of running legs past their excursion at t (MFE_TIMING_COLUMNS).
    legs_per_period: how many periods of 1, 7, 30 days had each leg count (PERIOD_COLUMNS).
    """

    legs: pd.DataFrame
    survival: pd.DataFrame
    summary: pd.DataFrame
    marks: pd.DataFrame
    mfe_timing: pd.DataFrame
    legs_per_period: pd.DataFrame


@dataclass(frozen=True)
class Legs:
    """The legs of one (window, direction): inclusive row ranges, in time order."""

    starts: IntArray
    ends: IntArray

    @property
    def lengths(self) -> IntArray:
        return self.ends - self.starts + 1


def sma_study(
    candles: pd.DataFrame,
    *,
    series: str,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    price: str = "open",
    flat_tol: float = 1e-9,
    interval_ms: int | None = None,
) -> SmaStudy:
    """Legs, survival and summary of the SMA trend legs of one series, per window and direction.

    `candles` is the series' history sorted by open time; `interval_ms` is inferred when omitted.
    A change of the SMA smaller than `flat_tol` × SMA counts as flat (d = 0).
    """
    if price not in candles.columns:
        raise ValueError(f"price column {price!r} is not in the candle table")
    if not windows or len(set(windows)) != len(windows) or any(w < 1 for w in windows):
        raise ValueError(f"windows must be distinct positive integers, got {tuple(windows)}")
    opens_ms = candle_open_ms(candles)
    follows = follows_previous(opens_ms, interval_ms)
    values = candles[price].to_numpy(dtype=np.float64)
    arrays = {c: candles[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low")}
    days = np.unique(opens_ms // DAY_MS)

    leg_tables, survival_tables, summary_rows = [], [], []
    mark_tables, timing_tables, period_tables = [], [], []
    for window in windows:
        found = window_legs(values, opens_ms, follows, window, flat_tol, interval_ms)
        marks = window_marks(
            candles["open_time"], {k.value: (v.starts, v.ends) for k, v in found.items()}
        )
        mark_tables.append(_keyed(marks, {"series": series, "window": window}))
        for direction, legs in found.items():
            key: dict[str, str | int | float] = {
                "series": series,
                "window": window,
                "direction": direction.value,
            }
            table = _leg_table(legs, candles, values, arrays, direction)
            leg_tables.append(_keyed(table, key))
            survival_tables.append(_keyed(survival_table(legs.lengths), key))
            leg_days = opens_ms[legs.starts] // DAY_MS
            per_day = _legs_per_day(leg_days, days)
            summary_rows.append(key | _summary(legs.lengths, table["mfe_bps"].to_numpy(), per_day))
            timing = leg_stats.mfe_timing(legs.lengths, table["mfe_index"].to_numpy())
            timing_tables.append(_keyed(timing, key))
            for period in leg_stats.PERIOD_DAYS:
                counts = leg_stats.legs_per_period(leg_days, days, period)
                spread = leg_stats.distribution(counts)
                period_tables.append(_keyed(spread, key | {"days": period}))
    return SmaStudy(
        legs=_concat(leg_tables, LEG_COLUMNS),
        survival=_concat(survival_tables, SURVIVAL_COLUMNS),
        summary=_typed_summary(pd.DataFrame(summary_rows, columns=list(SUMMARY_COLUMNS))),
        marks=_concat(mark_tables, MARK_COLUMNS),
        mfe_timing=_concat(timing_tables, MFE_TIMING_COLUMNS),
        legs_per_period=_concat(period_tables, PERIOD_COLUMNS),
    )


def window_legs(
    values: FloatArray,
    opens_ms: IntArray,
    follows: BoolArray,
    window: int,
    flat_tol: float = 1e-9,
    interval_ms: int | None = None,
) -> dict[Direction, Legs]:
    """The up and down legs of the SMA of `values` over `window` candles."""
    d = directions(sma(values, opens_ms, window, interval_ms=interval_ms), follows, flat_tol)
    return {direction: _find_legs(d == direction.sign, follows) for direction in Direction}


def directions(sma_values: FloatArray, follows: BoolArray, flat_tol: float = 1e-9) -> FloatArray:
    """d(t) = sign(SMA(t) − SMA(t−1)) as +1.0 / 0.0 / −1.0; NaN where undefined or after a gap."""
    d = np.full(len(sma_values), np.nan)
    if len(sma_values) > 1:
        now, before = sma_values[1:], sma_values[:-1]
        delta = now - before
        step = np.sign(delta)
        step[np.abs(delta) < flat_tol * np.abs(now)] = 0.0
        step[~follows[1:]] = np.nan
        d[1:] = step
    return d


def survival_table(lengths: IntArray) -> pd.DataFrame:
    """S(N) = P(L ≥ N) for N = 1 … max L + 1, and c(N) = S(N+1)/S(N) (NaN where S(N) = 0)."""
    if lengths.size == 0:
        return pd.DataFrame(
            {
                "n": pd.Series(dtype="int64"),
                "legs_at_least": pd.Series(dtype="int64"),
                "survival": pd.Series(dtype="float64"),
                "continuation": pd.Series(dtype="float64"),
            }
        )
    longest = int(lengths.max())
    counts = np.bincount(lengths, minlength=longest + 2)
    at_least = np.cumsum(counts[::-1])[::-1]  # at_least[N] = #legs with L ≥ N
    n = np.arange(1, longest + 2, dtype=np.int64)
    head, tail = at_least[n].astype(np.float64), np.append(at_least[n[1:]], 0).astype(np.float64)
    continuation = np.divide(tail, head, out=np.full(len(n), np.nan), where=head > 0)
    return pd.DataFrame(
        {
            "n": n,
            "legs_at_least": at_least[n].astype(np.int64),
            "survival": head / lengths.size,
            "continuation": continuation,
        }
    )


def _find_legs(in_leg: BoolArray, follows: BoolArray) -> Legs:
    """Maximal runs of True; a gap ends a run even if both sides are True."""
    continues = np.zeros(len(in_leg), dtype=np.bool_)
    continues[1:] = in_leg[1:] & in_leg[:-1] & follows[1:]
    starts = np.flatnonzero(in_leg & ~continues)
    ends_next = np.zeros(len(in_leg), dtype=np.bool_)
    ends_next[:-1] = continues[1:]
    ends = np.flatnonzero(in_leg & ~ends_next)
    return Legs(starts=starts.astype(np.int64), ends=ends.astype(np.int64))


def _leg_table(
    legs: Legs,
    candles: pd.DataFrame,
    values: FloatArray,
    arrays: dict[str, FloatArray],
    direction: Direction,
) -> pd.DataFrame:
    first_open = arrays["open"][legs.starts]
    # Favourable extreme: max high for up legs, min low (as max of −low) for down legs.
    extreme = arrays["high"] if direction is Direction.UP else -arrays["low"]
    best, at = _group_argmax(extreme, legs)
    mfe = (best - first_open) if direction is Direction.UP else (first_open + best)
    first, last = values[legs.starts], values[legs.ends]
    open_time = candles["open_time"]
    return pd.DataFrame(
        {
            "leg_id": np.arange(len(legs.starts), dtype=np.int64),
            "start_time": open_time.iloc[legs.starts].reset_index(drop=True),
            "end_time": open_time.iloc[legs.ends].reset_index(drop=True),
            "length": legs.lengths,
            "first_price": first,
            "last_price": last,
            "move_bps": (last / first - 1.0) * 1e4,
            "mfe_bps": mfe / first_open * 1e4,
            "mfe_index": at,
        }
    )


def _group_argmax(x: FloatArray, legs: Legs) -> tuple[FloatArray, IntArray]:
    """Per leg: max of x over its rows and the 0-based offset of its first occurrence."""
    if legs.starts.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    lengths = legs.lengths
    offsets = np.cumsum(lengths) - lengths  # where each leg begins in the concatenation
    leg_of_row = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(int(lengths.sum()), dtype=np.int64) - offsets[leg_of_row]
    vals = x[legs.starts[leg_of_row] + within]
    best = np.maximum.reduceat(vals, offsets)
    hit = np.where(vals == best[leg_of_row], within, np.iinfo(np.int64).max)
    return best, np.minimum.reduceat(hit, offsets)


def _legs_per_day(leg_days: IntArray, days: IntArray) -> IntArray:
    """Legs starting on each calendar day (UTC) that has at least one candle."""
    return np.bincount(np.searchsorted(days, leg_days), minlength=len(days)).astype(np.int64)


def _summary(lengths: IntArray, mfe: FloatArray, per_day: IntArray) -> dict[str, str | float]:
    row: dict[str, str | float] = {"legs": int(lengths.size)}
    if lengths.size == 0:
        return row  # the remaining columns stay missing
    p50, p90, p95, p99 = np.percentile(lengths, [50, 90, 95, 99])
    row |= {
        "length_mean": float(lengths.mean()),
        "length_p50": float(p50),
        "length_p90": float(p90),
        "length_p95": float(p95),
        "length_p99": float(p99),
        "length_max": int(lengths.max()),
    }
    row |= {name: _missing(threshold(lengths, level)) for name, level in TAIL_LEVELS.items()}
    row |= {
        "legs_per_day_mean": float(per_day.mean()),
        "legs_per_day_median": float(np.median(per_day)),
        "mfe_mean_bps": float(mfe.mean()),
        "mfe_median_bps": float(np.median(mfe)),
    }
    return row


def _missing(value: int | None) -> float:
    """A threshold as a number for the summary row, NaN (null once typed) when not observed."""
    return np.nan if value is None else float(value)


def _typed_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Counts as nullable integers (missing when a window has no legs), the rest as floats."""
    integers = ("legs", "length_max", *TAIL_LEVELS)
    floats = [c for c in SUMMARY_COLUMNS[3:] if c not in integers]
    return summary.astype({c: "Int64" for c in integers} | {c: "float64" for c in floats})


def _keyed(table: pd.DataFrame, key: Mapping[str, str | int | float]) -> pd.DataFrame:
    """The table with the key columns (series, window, direction) in front."""
    for position, (column, value) in enumerate(key.items()):
        table.insert(position, column, value)
    return table


def _concat(tables: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    non_empty = [t for t in tables if len(t)]
    out = pd.concat(non_empty, ignore_index=True) if non_empty else tables[0].iloc[:0]
    return out.loc[:, list(columns)].reset_index(drop=True)
