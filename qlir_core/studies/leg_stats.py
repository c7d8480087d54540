"""Per-leg distributions beyond the summary (docs/STUDIES.md, "SMA study" 8–9): when the maximum
favourable excursion happens, and how many legs start per day, per 7 and per 30 days."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qlir_core.indicators import IntArray

PERIOD_DAYS = (1, 7, 30)


def mfe_timing(lengths: IntArray, mfe_index: IntArray) -> pd.DataFrame:
    """For t = 0 … max L − 1: the legs still running at t (L > t), how many of them have already
    reached their maximum favourable excursion (mfe_index ≤ t), and that share."""
    if lengths.size == 0:
        return pd.DataFrame(
            {
                "t": pd.Series(dtype="int64"),
                "legs_running": pd.Series(dtype="int64"),
                "mfe_done": pd.Series(dtype="int64"),
                "share_done": pd.Series(dtype="float64"),
            }
        )
    longest = int(lengths.max())
    ended_by = np.cumsum(np.bincount(lengths, minlength=longest + 1))[:longest]  # L ≤ t
    reached_by = np.cumsum(np.bincount(mfe_index, minlength=longest))[:longest]  # index ≤ t
    running = lengths.size - ended_by
    # A leg that has ended reached its excursion before it ended: subtract it from both.
    done = reached_by - ended_by
    return pd.DataFrame(
        {
            "t": np.arange(longest, dtype=np.int64),
            "legs_running": running.astype(np.int64),
            "mfe_done": done.astype(np.int64),
            "share_done": done / running,
        }
    )


def legs_per_period(leg_days: IntArray, days: IntArray, period: int) -> IntArray:
    """Legs starting in each block of `period` UTC days counted from the first day with a candle;
    only blocks that have a candle and end by the last day with one (a full block)."""
    if days.size == 0:
        return np.empty(0, dtype=np.int64)
    block = (days - days[0]) // period
    n_blocks = int(block[-1]) + 1
    full = int(days[-1] - days[0] + 1) // period  # blocks wholly inside the history
    counts = np.bincount((leg_days - days[0]) // period, minlength=n_blocks)
    has_candle = np.zeros(n_blocks, dtype=np.bool_)
    has_candle[block] = True
    keep = has_candle & (np.arange(n_blocks) < full)
    return counts[keep].astype(np.int64)


def distribution(counts: IntArray) -> pd.DataFrame:
    """How many periods had each number of legs (0 … max), and their share of all periods."""
    if counts.size == 0:
        return pd.DataFrame(
            {
                "legs": pd.Series(dtype="int64"),
                "periods": pd.Series(dtype="int64"),
                "share": pd.Series(dtype="float64"),
            }
        )
    periods = np.bincount(counts)
    return pd.DataFrame(
        {
            "legs": np.arange(len(periods), dtype=np.int64),
            "periods": periods.astype(np.int64),
            "share": periods / counts.size,
        }
    )
