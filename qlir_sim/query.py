"""Binance's klines selection rules over a market's day-by-day candles (pure)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd

from qlir_core.candles import empty, open_ms
from qlir_sim.market import day_of, day_start_ms

MAX_LIMIT = 1000
DEFAULT_LIMIT = 500


def select_klines(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    *,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    """Candles by open time, chronological, as `GET /api/v3/klines` picks them.

    With `start_ms`: the oldest from it, up to `limit`, never past `end_ms`. Without: the most
    recent up to `limit` opening at or before `end_ms` (or the latest ones).
    """
    if start_ms is not None:
        return _forward(days, load, start_ms, end_ms, limit)
    return _backward(days, load, end_ms, limit)


def _forward(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    start_ms: int,
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    count = 0
    for day in days[bisect_left(days, day_of(start_ms)) :]:
        if end_ms is not None and day_start_ms(day) > end_ms:
            break
        frame = load(day)
        opens = open_ms(frame)
        keep = opens >= start_ms
        if end_ms is not None:
            keep &= opens <= end_ms
        if keep.any():
            frames.append(frame[keep])
            count += int(keep.sum())
        if count >= limit:
            break
    return _joined(frames).iloc[:limit].reset_index(drop=True)


def _backward(
    days: Sequence[date],
    load: Callable[[date], pd.DataFrame],
    end_ms: int | None,
    limit: int,
) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    count = 0
    stop = len(days) if end_ms is None else bisect_right(days, day_of(end_ms))
    for day in reversed(days[:stop]):
        frame = load(day)
        if end_ms is not None:
            frame = frame[open_ms(frame) <= end_ms]
        if not frame.empty:
            frames.insert(0, frame)
            count += len(frame)
        if count >= limit:
            break
    return _joined(frames).iloc[-limit:].reset_index(drop=True)


def _joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame from the non-empty pieces (concat warns about empty ones)."""
    if not frames:
        return empty()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
