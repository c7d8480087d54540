"""The marks backtest on a hand-made history, and its invariants on random candles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core.series import Series
from qlir_core.studies import registered, sma_study
from qlir_core.studies.backtest import RESULT_COLUMNS, marks_backtest
from tests.core.conftest import MakeCandles


def _threshold_history() -> tuple[list[float], int]:
    """Window 2 on opens: nine one-candle up legs, one of three, then one of four (each followed
    by a one-candle fall), and where that last leg starts."""
    opens = [10.0, 10.0]
    start = 0
    for rise in [1] * 9 + [3, 4]:
        if rise == 4:
            start = len(opens)
        for _ in range(rise):
            opens.append(opens[-2] + 1)
        opens.append(opens[-2] - 1)
    return opens, start


def test_one_trade_at_the_10pct_mark(make_candles: MakeCandles) -> None:
    opens, start = _threshold_history()
    candles = make_candles(opens)
    result = marks_backtest(candles, series="EX-1m", windows=(2,), fee_bps=10.0)
    trades = result.trades[result.trades["direction"] == "up"]
    (trade,) = trades.itertuples(index=False)
    assert trade.level == "tail_10pct"
    # The mark reaches the 10 % threshold (2) at the leg's 2nd candle; the leg (4 candles) ends
    # at the open of the candle after its last.
    assert trade.entry_time == candles["open_time"].iloc[start + 1]
    assert trade.exit_time == candles["open_time"].iloc[start + 4]
    assert trade.entry_price == opens[start + 1]
    assert trade.exit_price == opens[start + 4]
    expected = (opens[start + 4] / opens[start + 1] - 1) * 1e4
    assert trade.return_bps == pytest.approx(expected)
    results = result.results.astype({"direction": str, "level": str}).set_index(
        ["direction", "level"]
    )
    assert list(result.results.columns) == list(RESULT_COLUMNS)
    row = results.loc[("up", "tail_10pct")]
    assert row["trades"] == 1
    assert row["mean_bps"] == pytest.approx(expected)
    assert row["net_mean_bps"] == pytest.approx(expected - 10.0)
    assert row["hit_rate"] == (1.0 if expected > 0 else 0.0)
    assert results.loc[("up", "tail_5pct"), "trades"] == 0


def test_the_backtest_is_a_registered_study(make_candles: MakeCandles) -> None:
    (study,) = [s for s in registered() if s.name == "marks_backtest"]
    assert study.parameters["fee_bps"] == 10.0
    opens, _ = _threshold_history()
    result = study.run(make_candles(opens), Series.parse("BTCUSDT-1m"), {"windows": [2]})
    assert set(result.tables) == {"results", "trades"}
    assert result.headline["w2_up_tail_10pct_trades"] == 1.0


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=st.data(), window=st.integers(2, 4))
def test_entries_are_where_the_marks_first_reach_a_level(
    data: st.DataObject, window: int, candle_tables: st.SearchStrategy[pd.DataFrame]
) -> None:
    candles = data.draw(candle_tables)
    marks = sma_study(candles, series="P-1m", windows=(window,), interval_ms=60_000).marks
    trades = marks_backtest(candles, series="P-1m", windows=(window,), interval_ms=60_000).trades
    for trade in trades.itertuples(index=False):
        at = marks[marks["open_time"] == trade.entry_time].iloc[0]
        assert at[f"in_{trade.level}"]
        assert at["direction"] == trade.direction
        before = marks[
            (marks["leg_start"] == at["leg_start"]) & (marks["open_time"] < trade.entry_time)
        ]
        assert not before[f"in_{trade.level}"].any()
        assert trade.exit_time > trade.entry_time or np.isclose(
            trade.exit_price, candles.loc[candles["open_time"] == trade.exit_time, "close"].iloc[0]
        )
