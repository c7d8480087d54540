"""Per-candle marks: the STUDIES.md example, no look-ahead (truncation never changes a mark),
and running lengths that match the legs, on random and on real ETHUSDT candles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core.studies import sma_study
from qlir_core.studies.marks import MARK_COLUMNS, MARK_FLAGS
from tests.core.conftest import MakeCandles

WORKED_OPENS = [1.0, 2, 3, 4, 3, 2, 2, 3, 4, 5, 6]


def test_worked_example_marks(make_candles: MakeCandles) -> None:
    """STUDIES.md, "Per-candle marks", on the 11-candle SMA example (window 2)."""
    candles = make_candles(WORKED_OPENS)
    marks = sma_study(candles, series="EX-1m", windows=(2,)).marks
    assert list(marks.columns) == list(MARK_COLUMNS)
    assert marks["direction"].tolist() == [
        *(np.nan, np.nan, "up", "up", np.nan, "down", "down"),
        *("up", "up", "up", "up"),
    ]
    assert marks["run_length"].tolist() == [0, 0, 1, 2, 0, 1, 2, 1, 2, 3, 4]
    times = candles["open_time"]
    starts = [None, None, 2, 2, None, 5, 5, 7, 7, 7, 7]
    expected = [pd.NaT if s is None else times.iloc[s] for s in starts]
    assert marks["leg_start"].tolist() == expected
    assert marks["prior_legs"].tolist() == [
        *(pd.NA, pd.NA, 0, 0, pd.NA, 0, 0),
        *(1, 1, 1, 1),
    ]
    # One earlier up leg (of 2) is all t7–t10 know: every threshold is beyond it, none is reached.
    for flag in MARK_FLAGS:
        assert not marks[flag].any()


def test_worked_example_threshold_marks(make_candles: MakeCandles) -> None:
    """STUDIES.md: after up legs 1 ×9 and 3, the next up leg is in the 10 % tail from its 2nd
    candle; the 5 % threshold is not observed, so that flag stays off."""
    # Window 2 on opens: a rise of one candle, then a fall of one candle, nine times, then a
    # three-candle rise and a fall, then the leg under test.
    opens = [10.0, 10.0]
    for rise in [1] * 9 + [3] + [4]:
        for _ in range(rise):
            opens.append(opens[-2] + 1)
        opens.append(opens[-2] - 1)
    marks = sma_study(make_candles(opens), series="EX-1m", windows=(2,)).marks
    up = marks[marks["direction"] == "up"]
    last = up[up["prior_legs"] == 10]
    assert last["run_length"].tolist() == [1, 2, 3, 4]
    assert last["in_tail_10pct"].tolist() == [False, True, True, True]
    assert not last["in_tail_5pct"].any()
    assert not up[up["prior_legs"] < 10]["in_tail_10pct"].any()


def _marks(candles: pd.DataFrame, window: int) -> pd.DataFrame:
    return sma_study(candles, series="P-1m", windows=(window,), interval_ms=60_000).marks


def _running_lengths_match_legs(candles: pd.DataFrame, window: int) -> None:
    """Each candle of a leg (from the legs table) has run length 1 … L, the leg's start and
    direction; every other candle has run length 0."""
    study = sma_study(candles, series="P-1m", windows=(window,), interval_ms=60_000)
    times = candles["open_time"].astype("int64").to_numpy()
    run = study.marks["run_length"].to_numpy()
    start = study.marks["leg_start"].astype("int64").to_numpy()
    direction = study.marks["direction"].astype(str).to_numpy()
    expected = np.zeros(len(candles), dtype=np.int64)
    for leg in study.legs.itertuples(index=False):
        first, last = np.searchsorted(
            times, [leg.start_time.value // 10**6, leg.end_time.value // 10**6]
        )
        assert last - first + 1 == leg.length
        expected[first : last + 1] = np.arange(1, leg.length + 1)
        assert (start[first : last + 1] == times[first]).all()
        assert (direction[first : last + 1] == leg.direction).all()
    np.testing.assert_array_equal(run, expected)


def _truncation_never_changes_marks(candles: pd.DataFrame, window: int, cuts: list[int]) -> None:
    full = _marks(candles, window)
    for cut in cuts:
        part = _marks(candles.iloc[:cut].reset_index(drop=True), window)
        pd.testing.assert_frame_equal(part, full.iloc[:cut].reset_index(drop=True))


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=st.data(), window=st.integers(2, 5))
def test_marks_properties(
    data: st.DataObject, window: int, candle_tables: st.SearchStrategy[pd.DataFrame]
) -> None:
    candles = data.draw(candle_tables)
    _running_lengths_match_legs(candles, window)
    cuts = data.draw(st.lists(st.integers(0, len(candles)), max_size=4))
    _truncation_never_changes_marks(candles, window, cuts)


def test_marks_on_real_ethusdt_days(eth_days: pd.DataFrame) -> None:
    for window in (14, 50):
        _running_lengths_match_legs(eth_days, window)
        marks = _marks(eth_days, window)
        assert marks["in_tail_10pct"].any()  # two days hold enough legs to reach the 10 % tail
    # Cuts across the two days, and inside long legs: no mark changes.
    _truncation_never_changes_marks(eth_days, 14, [100, 1440, 1441, 2000, 2879])


def test_marks_on_synthetic_days_with_a_halt(make_candles: MakeCandles) -> None:
    """Three days of 1m candles (a random walk) with a 40-minute halt on the second day."""
    rng = np.random.default_rng(11)
    n = 3 * 1440 - 40
    opens = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    steps = np.ones(n, dtype=np.int64)
    steps[2000] = 41
    candles = make_candles(opens, steps=steps)
    for window in (3, 14):
        _running_lengths_match_legs(candles, window)
    marks = _marks(candles, 14)
    assert marks["in_tail_10pct"].any()
    # Cuts at midnight, at the halt, and inside legs.
    _truncation_never_changes_marks(candles, 14, [1439, 1440, 1999, 2000, 2001, 2900, n - 1])
