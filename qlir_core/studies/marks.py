"""Per-candle marks of the SMA legs (docs/STUDIES.md, "Per-candle marks"), without look-ahead.

Candle t of a leg is marked with its running length r (1 … L) and, per tail level, whether r has
reached the threshold computed from the legs of the same window and direction that ended before
the leg began. Legs of one direction never overlap, so that history is "the earlier legs", the
same for every candle of a leg: truncating the candles at t never changes a mark at or before t.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from qlir_core.indicators import FloatArray, IntArray
from qlir_core.studies.tails import TAIL_LEVELS, expanding_thresholds

DIRECTION_DTYPE = pd.CategoricalDtype(["up", "down"])
# The flag of each tail level: `in_tail_10pct` for `tail_10pct`.
MARK_FLAGS = {f"in_{name}": level for name, level in TAIL_LEVELS.items()}
MARK_COLUMNS = (
    "series",
    "window",
    "open_time",
    "direction",
    "run_length",
    "leg_start",
    "prior_legs",
    *MARK_FLAGS,
)


def leg_thresholds(lengths: IntArray) -> dict[str, FloatArray]:
    """Per tail level (by its TAIL_LEVELS name), the threshold each leg is compared with, from
    the legs before it (NaN: none observed yet)."""
    return {name: expanding_thresholds(lengths, level) for name, level in TAIL_LEVELS.items()}


def window_marks(
    open_time: pd.Series,
    legs: Mapping[str, tuple[IntArray, IntArray]],
) -> pd.DataFrame:
    """The marks of one window: `legs` maps a direction (`up`, `down`) to its legs' inclusive
    row ranges in time order."""
    n = len(open_time)
    direction = np.full(n, -1, dtype=np.int8)
    run = np.zeros(n, dtype=np.int64)
    start_row = np.full(n, -1, dtype=np.int64)
    prior = np.full(n, -1, dtype=np.int64)
    flags = {flag: np.zeros(n, dtype=np.bool_) for flag in MARK_FLAGS}
    for code, name in enumerate(DIRECTION_DTYPE.categories):
        starts, ends = legs[name]
        lengths = ends - starts + 1
        if not lengths.size:
            continue
        leg_of_row = np.repeat(np.arange(len(lengths)), lengths)
        rows = np.repeat(starts, lengths) + (
            np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        direction[rows] = code
        run[rows] = rows - starts[leg_of_row] + 1
        start_row[rows] = starts[leg_of_row]
        prior[rows] = leg_of_row
        for name, per_leg in leg_thresholds(lengths).items():
            bar = per_leg[leg_of_row]
            flags[f"in_{name}"][rows] = ~np.isnan(bar) & (run[rows] >= bar)
    times = open_time.reset_index(drop=True)
    in_leg = start_row >= 0
    leg_start = times.take(np.where(in_leg, start_row, 0)).reset_index(drop=True).where(in_leg)
    return pd.DataFrame(
        {
            "open_time": times,
            "direction": pd.Categorical.from_codes(direction, dtype=DIRECTION_DTYPE),
            "run_length": run,
            "leg_start": leg_start,
            "prior_legs": pd.arrays.IntegerArray(np.where(in_leg, prior, 0), ~in_leg),
            **flags,
        }
    )
