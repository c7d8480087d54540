"""Bollinger width regimes (docs/STUDIES.md, "Band-touch study" 7): the band width, the squeeze
flag, and which way price broke out when a squeeze ended."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qlir_core.indicators import Bands, BoolArray, FloatArray, IntArray

SQUEEZE_LOOKBACK = 120
SQUEEZE_QUANTILE = 0.2
BREAKOUTS = ("up", "down")  # close above the mid when the squeeze ends, or below it


@dataclass(frozen=True)
class Squeeze:
    """Per candle: the width, the rolling quantile it is compared with, and the flag (only
    meaningful where `defined`: a full lookback of widths, none across a gap)."""

    width: FloatArray
    quantile: FloatArray
    flag: BoolArray
    defined: BoolArray


def band_width(bands: Bands) -> FloatArray:
    """(upper − lower) / mid; NaN where the candle has no bands."""
    width: FloatArray = (bands.upper - bands.lower) / bands.mid
    return width


def squeeze(
    width: FloatArray, lookback: int = SQUEEZE_LOOKBACK, quantile: float = SQUEEZE_QUANTILE
) -> Squeeze:
    """The flag `width ≤ q`, q the `quantile` (linear interpolation) of the `lookback` widths
    ending at the candle. A window over a gap holds the first candle after it, which has no
    bands, so requiring every width in the window keeps the quantile within one segment."""
    if lookback < 1 or not 0.0 <= quantile <= 1.0:
        raise ValueError(
            f"squeeze needs lookback ≥ 1 and 0 ≤ quantile ≤ 1, got {lookback} and {quantile}"
        )
    rolling = pd.Series(width).rolling(lookback, min_periods=lookback)
    q = rolling.quantile(quantile, interpolation="linear").to_numpy(dtype=np.float64)
    defined = ~np.isnan(q)
    return Squeeze(width=width, quantile=q, flag=defined & (width <= q), defined=defined)


def squeeze_ends(state: Squeeze, segment: IntArray) -> IntArray:
    """Rows t where a squeeze ends: flagged at t − 1, defined and unflagged at t, no gap between."""
    ends = np.zeros(len(state.flag), dtype=np.bool_)
    ends[1:] = state.flag[:-1] & state.defined[1:] & ~state.flag[1:] & (segment[1:] == segment[:-1])
    return np.flatnonzero(ends).astype(np.int64)


def breakout_codes(ends: IntArray, close: FloatArray, mid: FloatArray) -> IntArray:
    """Per candle: 0 (up) or 1 (down) where a squeeze ends with the close off the mid, else −1."""
    codes = np.full(len(close), -1, dtype=np.int64)
    codes[ends[close[ends] > mid[ends]]] = 0
    codes[ends[close[ends] < mid[ends]]] = 1
    return codes
