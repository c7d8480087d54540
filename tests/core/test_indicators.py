"""Gap-aware TA-Lib wrappers: equal to TA-Lib on every contiguous segment, never across a gap."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core.candles import open_ms
from qlir_core.indicators import (
    bbands,
    follows_previous,
    infer_interval_ms,
    segment_bounds,
    segment_ids,
    sma,
)
from qlir_core.intervals import MINUTE_MS

MakeCandles = Callable[..., pd.DataFrame]
Oracle = Callable[[pd.DataFrame, int], np.ndarray]


def _segments(times: list[int]) -> list[tuple[int, int]]:
    """[start, end) of the contiguous runs, one step at a time."""
    bounds, start = [], 0
    for i in range(1, len(times) + 1):
        if i == len(times) or times[i] - times[i - 1] != MINUTE_MS:
            bounds.append((start, i))
            start = i
    return bounds


def _assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal NaN pattern and relative error ≤ 1e-9."""
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(actual[ok], expected[ok], rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("steps", "ids"),
    [
        ([], []),
        ([1], [0]),
        ([1, 1, 1], [0, 0, 0]),
        ([1, 2, 1], [0, 1, 1]),
        ([1, 1, 5, 3, 1], [0, 0, 1, 2, 2]),
    ],
)
def test_segment_ids(make_candles: MakeCandles, steps: list[int], ids: list[int]) -> None:
    candles = make_candles(np.ones(len(steps)), steps=steps)
    times = open_ms(candles)
    assert segment_ids(times, MINUTE_MS).tolist() == ids
    starts, ends = segment_bounds(times, MINUTE_MS)
    assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == _segments(times.tolist())


def test_interval_is_inferred_from_the_smallest_step(make_candles: MakeCandles) -> None:
    times = open_ms(make_candles(np.ones(5), steps=[1, 3, 1, 2, 1]))
    assert infer_interval_ms(times) == MINUTE_MS
    assert follows_previous(times).tolist() == [False, False, True, False, True]
    with pytest.raises(ValueError, match="fewer than two"):
        infer_interval_ms(times[:1])


def test_unsorted_or_duplicate_open_times_are_rejected(make_candles: MakeCandles) -> None:
    times = open_ms(make_candles(np.ones(3)))
    with pytest.raises(ValueError, match="strictly increasing"):
        segment_ids(times[[0, 2, 1]])
    with pytest.raises(ValueError, match="strictly increasing"):
        sma(np.ones(3), times[[0, 1, 1]], 2)


def test_sma_restarts_after_a_gap(make_candles: MakeCandles) -> None:
    # Window 3; the 4th candle comes after a gap, so it and the next one have no SMA.
    candles = make_candles([1.0, 2, 3, 4, 5, 6, 7], steps=[1, 1, 1, 2, 1, 1, 1])
    out = sma(candles["open"], open_ms(candles), 3)
    np.testing.assert_array_equal(out, [np.nan, np.nan, 2.0, np.nan, np.nan, 5.0, 6.0])


def test_bbands_equals_talib_on_contiguous_input(make_candles: MakeCandles) -> None:
    close = 100 + np.sin(np.arange(60.0))
    candles = make_candles(close)
    bands = bbands(close, open_ms(candles))
    upper, mid, lower = talib.BBANDS(close, 20, 2, 2, matype=0)
    for actual, expected in ((bands.upper, upper), (bands.mid, mid), (bands.lower, lower)):
        np.testing.assert_array_equal(actual, expected)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), window=st.integers(1, 25))
def test_sma_equals_talib_on_every_segment(
    data: st.DataObject,
    window: int,
    candle_tables: st.SearchStrategy[pd.DataFrame],
    window_oracle: Oracle,
) -> None:
    candles = data.draw(candle_tables)
    values = candles["open"].to_numpy()
    out = sma(values, open_ms(candles), window, interval_ms=MINUTE_MS)
    expected = np.full(len(values), np.nan)
    for start, end in _segments(open_ms(candles).tolist()):
        if end - start >= window:
            expected[start:end] = talib.SMA(values[start:end], timeperiod=window)
    _assert_close(out, expected)
    np.testing.assert_array_equal(~np.isnan(out), window_oracle(candles, window))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), period=st.integers(2, 25), k=st.sampled_from([1.0, 2.0, 2.5]))
def test_bbands_equal_talib_on_every_segment(
    data: st.DataObject,
    period: int,
    k: float,
    candle_tables: st.SearchStrategy[pd.DataFrame],
    window_oracle: Oracle,
) -> None:
    candles = data.draw(candle_tables)
    close = candles["close"].to_numpy()
    bands = bbands(close, open_ms(candles), period, k, interval_ms=MINUTE_MS)
    expected = [np.full(len(close), np.nan) for _ in range(3)]
    for start, end in _segments(open_ms(candles).tolist()):
        if end - start >= period:
            outputs = talib.BBANDS(close[start:end], period, k, k, matype=0)
            for full, part in zip(expected, outputs, strict=True):
                full[start:end] = part
    for actual, wanted in zip((bands.upper, bands.mid, bands.lower), expected, strict=True):
        _assert_close(actual, wanted)
    np.testing.assert_array_equal(~np.isnan(bands.mid), window_oracle(candles, period))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), period=st.integers(2, 25))
def test_no_band_value_uses_a_window_across_a_gap(
    data: st.DataObject, period: int, candle_tables: st.SearchStrategy[pd.DataFrame]
) -> None:
    """Changing every close before a gap changes no band value after it."""
    candles = data.draw(candle_tables)
    times = open_ms(candles)
    close = candles["close"].to_numpy()
    bands = bbands(close, times, period, interval_ms=MINUTE_MS)
    for start, _ in _segments(times.tolist())[1:]:
        shaken = close.copy()
        shaken[:start] = shaken[:start] * 7.0 + 1_000.0
        again = bbands(shaken, times, period, interval_ms=MINUTE_MS)
        for before, after in ((bands.lower, again.lower), (bands.upper, again.upper)):
            np.testing.assert_array_equal(before[start:], after[start:])


def test_periods_are_validated() -> None:
    times = np.arange(5, dtype=np.int64) * MINUTE_MS
    with pytest.raises(ValueError, match="at least 1"):
        sma(np.ones(5), times, 0)
    with pytest.raises(ValueError, match="at least 2"):
        bbands(np.ones(5), times, 1)
    with pytest.raises(ValueError, match="values for"):
        sma(np.ones(4), times, 2)
