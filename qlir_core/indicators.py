"""Gap-aware TA-Lib indicators: no window ever spans a missing candle.

A candle sequence splits into contiguous segments (consecutive open times exactly one interval
apart). TA-Lib runs once on each segment long enough to fill a window, so every value equals TA-Lib
on that segment's input, and after a gap an indicator of period w is undefined for w − 1 candles.
TA-Lib keeps running sums, so one call over the whole history would differ from per-segment calls
in the last bits and would carry values across gaps; per-segment calls are exact. There are at most
n / w such calls, each vectorized in C.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Bands:
    """Bollinger bands, one value per candle; NaN where the window is not contiguous."""

    lower: FloatArray
    mid: FloatArray
    upper: FloatArray


def infer_interval_ms(open_ms: IntArray) -> int:
    """The smallest step between consecutive open times: the interval unless every step is a gap."""
    steps = _steps(open_ms)
    if steps.size == 0:
        raise ValueError("cannot infer the interval from fewer than two candles; pass interval_ms")
    return int(steps.min())


def follows_previous(open_ms: IntArray, interval_ms: int | None = None) -> BoolArray:
    """True where a candle opens exactly one interval after the previous one (False at row 0)."""
    steps = _steps(open_ms)
    out = np.zeros(len(open_ms), dtype=np.bool_)
    if steps.size:
        step = infer_interval_ms(open_ms) if interval_ms is None else interval_ms
        if step <= 0:
            raise ValueError(f"interval_ms must be positive, got {step}")
        out[1:] = steps == step
    return out


def segment_ids(open_ms: IntArray, interval_ms: int | None = None) -> IntArray:
    """0-based id of the contiguous segment each candle belongs to."""
    follows = follows_previous(open_ms, interval_ms)
    return np.cumsum(~follows, dtype=np.int64) - 1


def segment_bounds(open_ms: IntArray, interval_ms: int | None = None) -> tuple[IntArray, IntArray]:
    """Row ranges `[start, end)` of the contiguous segments, in order."""
    starts = np.flatnonzero(~follows_previous(open_ms, interval_ms)).astype(np.int64)
    ends = np.append(starts[1:], len(open_ms)).astype(np.int64) if starts.size else starts
    return starts, ends


def sma(
    values: npt.ArrayLike, open_ms: IntArray, window: int, *, interval_ms: int | None = None
) -> FloatArray:
    """`talib.SMA(values, window)` per contiguous segment; NaN where the window spans a gap."""
    x = _float_input(values, open_ms)
    _check_period(window, minimum=1)
    out = np.full(len(x), np.nan)
    for start, end in _long_segments(open_ms, interval_ms, window):
        out[start:end] = _talib().SMA(x[start:end], timeperiod=window)
    return out


def bbands(
    close: npt.ArrayLike,
    open_ms: IntArray,
    period: int = 20,
    k: float = 2.0,
    *,
    interval_ms: int | None = None,
) -> Bands:
    """`talib.BBANDS(close, period, k, k, matype=0)` per contiguous segment (population σ)."""
    x = _float_input(close, open_ms)
    _check_period(period, minimum=2)  # TA-Lib rejects a 1-candle BBANDS (TA_BAD_PARAM)
    lower, mid, upper = (np.full(len(x), np.nan) for _ in range(3))
    for start, end in _long_segments(open_ms, interval_ms, period):
        # matype 0 is TA-Lib's SMA; the stubs ask for their MA_Type enum, the binding takes ints.
        up, md, lo = _talib().BBANDS(
            x[start:end],
            timeperiod=period,
            nbdevup=k,
            nbdevdn=k,
            matype=0,
        )
        upper[start:end], mid[start:end], lower[start:end] = up, md, lo
    return Bands(lower=lower, mid=mid, upper=upper)


def _steps(open_ms: IntArray) -> IntArray:
    times = np.asarray(open_ms, dtype=np.int64)
    steps: IntArray = times[1:] - times[:-1]
    if (steps <= 0).any():
        raise ValueError("open times must be strictly increasing (sorted, without duplicates)")
    return steps


def _float_input(values: npt.ArrayLike, open_ms: IntArray) -> FloatArray:
    x = np.ascontiguousarray(values, dtype=np.float64)
    if x.shape != (len(open_ms),):
        raise ValueError(f"{x.shape[0] if x.ndim else 0} values for {len(open_ms)} open times")
    return x


def _check_period(period: int, *, minimum: int) -> None:
    if period < minimum:
        raise ValueError(f"the period must be at least {minimum}, got {period}")


def _long_segments(
    open_ms: IntArray, interval_ms: int | None, window: int
) -> list[tuple[int, int]]:
    """The segments with at least `window` candles: the only ones where a window fits."""
    starts, ends = segment_bounds(open_ms, interval_ms)
    keep = ends - starts >= window
    return list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))


def _talib() -> Any:
    """TA-Lib, imported on first use: defining the studies does not load it."""
    import talib

    return talib
