"""Candle tables for the indicator and study tests: a builder and a hypothesis strategy."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qlir_core import candles as candle_table
from qlir_core.intervals import MINUTE_MS

START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC

MakeCandles = Callable[..., pd.DataFrame]


def build_candles(
    opens: Sequence[float],
    *,
    steps: Sequence[int] | None = None,
    high: Sequence[float] | None = None,
    low: Sequence[float] | None = None,
    close: Sequence[float] | None = None,
    start_ms: int = START_MS,
    interval_ms: int = MINUTE_MS,
) -> pd.DataFrame:
    """A typed candle table. `steps[i]` is how many intervals candle i opens after candle i−1
    (steps[0] is ignored): 1 is contiguous, k > 1 leaves k − 1 candles missing."""
    o = np.asarray(opens, dtype=np.float64)
    n = len(o)
    gaps = np.ones(n, dtype=np.int64) if steps is None else np.asarray(steps, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(gaps[1:]))) if n else np.empty(0, dtype=np.int64)
    open_ms = start_ms + offsets * interval_ms
    c = o if close is None else np.asarray(close, dtype=np.float64)
    h = np.maximum(o, c) + 0.5 if high is None else np.asarray(high, dtype=np.float64)
    lo = np.minimum(o, c) - 0.5 if low is None else np.asarray(low, dtype=np.float64)
    raw = pd.DataFrame(
        {
            "open_time": open_ms,
            "open": o,
            "high": h,
            "low": lo,
            "close": c,
            "volume": np.ones(n),
            "close_time": open_ms + interval_ms - 1,
            "quote_volume": c,
            "trades": np.ones(n, dtype=np.int64),
            "taker_buy_base_volume": np.full(n, 0.5),
            "taker_buy_quote_volume": c / 2,
        }
    )
    if n == 0:
        return candle_table.empty()
    for column in candle_table.TIME_COLUMNS:
        raw[column] = pd.to_datetime(raw[column], unit="ms", utc=True).astype(
            candle_table.TIME_DTYPE
        )
    return raw


@pytest.fixture(scope="session")
def make_candles() -> MakeCandles:
    """The candle-table builder (see build_candles)."""
    return build_candles


@st.composite
def _candles(draw: st.DrawFn, max_size: int, max_wick: int) -> pd.DataFrame:
    """Integer-valued random walks (so flat SMAs and exact band hits happen) with random gaps."""
    n = draw(st.integers(0, max_size))

    def column(values: st.SearchStrategy[int]) -> np.ndarray:
        # fill=nothing: every element is drawn (no mostly-constant arrays); faster than st.lists.
        drawn = draw(hnp.arrays(np.int64, n, elements=values, fill=st.nothing()))
        return np.asarray(drawn, dtype=np.float64)

    # Mostly small moves and wicks, now and then a jump: every band label shows up.
    opens = 1_000 + np.cumsum(column(st.sampled_from([0, 1, -1, 2, -2, 3, -3, 4, -4, 30, -30])))
    close = opens + column(st.integers(-4, 4))
    wick = st.sampled_from([0, 0, 1, 1, 2, 3, 5, max_wick])
    high = np.maximum(opens, close) + column(wick)
    low = np.minimum(opens, close) - column(wick)
    # Mostly contiguous; now and then 1, 2 or 6 candles missing.
    steps = column(st.sampled_from([1] * 12 + [2, 3, 7])).astype(np.int64)
    return build_candles(opens, steps=steps, high=high, low=low, close=close)


def contiguous_windows(candles: pd.DataFrame, window: int) -> np.ndarray:
    """Oracle, one candle at a time: True where the `window` candles ending here are contiguous."""
    times = candle_table.open_ms(candles).tolist()
    out = []
    for i in range(len(times)):
        first = i - window + 1
        out.append(
            first >= 0 and all(times[j + 1] - times[j] == MINUTE_MS for j in range(first, i))
        )
    return np.asarray(out, dtype=bool)


@pytest.fixture(scope="session")
def candle_tables() -> st.SearchStrategy[pd.DataFrame]:
    """Hypothesis strategy: candle tables of up to 160 rows with gaps, for `data.draw(...)`."""
    return _candles(max_size=160, max_wick=12)


@pytest.fixture(scope="session")
def window_oracle() -> Callable[[pd.DataFrame, int], np.ndarray]:
    """contiguous_windows: which candles end a gap-free window of a given length."""
    return contiguous_windows
