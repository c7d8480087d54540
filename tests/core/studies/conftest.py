"""Inputs of the worked examples in docs/STUDIES.md."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

# SMA study, window 2, price = open: opens at t0 … t10.
WORKED_OPENS = [1.0, 2, 3, 4, 3, 2, 2, 3, 4, 5, 6]


@pytest.fixture
def worked_sma_candles(make_candles: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """The SMA worked example: opens 1 2 3 4 3 2 2 3 4 5 6 at t0 … t10, one minute apart."""
    return make_candles(WORKED_OPENS)


@pytest.fixture
def worked_sma_candles_without_t5(make_candles: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """The same with the candle t5 missing (a one-candle gap between t4 and t6)."""
    opens = WORKED_OPENS[:5] + WORKED_OPENS[6:]
    return make_candles(opens, steps=[1, 1, 1, 1, 1, 2, 1, 1, 1, 1])
