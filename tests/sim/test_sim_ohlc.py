"""Property: synthetic candles are consistent for any seed, symbol and interval."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core.candles import open_ms
from qlir_core.series import Series
from qlir_sim import Synthetic

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "PEPEUSDT", "XYZBTC"]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    symbol=st.sampled_from(SYMBOLS),
    interval=st.sampled_from(["1m", "5m", "1h", "1d"]),
    offset=st.integers(0, 400),
)
def test_candles_are_consistent(seed: int, symbol: str, interval: str, offset: int) -> None:
    start = date(2023, 6, 1)
    market = Synthetic([symbol], [interval], start, days=offset + 2, seed=seed)
    series = Series.parse(f"{symbol}-{interval}")
    first = start + timedelta(days=offset)
    days = [market.full_day(series, first + timedelta(days=i)) for i in range(2)]
    for day in days:
        o, h, lo, c = (day[k].to_numpy() for k in ("open", "high", "low", "close"))
        volume, quote = day["volume"].to_numpy(), day["quote_volume"].to_numpy()
        assert (lo > 0).all()
        assert (lo <= np.minimum(o, c)).all()
        assert (np.maximum(o, c) <= h).all()
        assert (volume > 0).all()
        assert (day["trades"].to_numpy() >= 1).all()
        assert (day["taker_buy_base_volume"].to_numpy() <= volume).all()
        assert (day["taker_buy_quote_volume"].to_numpy() <= quote).all()
        # Quote volume is volume times a price inside the candle (rounding aside).
        assert (quote >= volume * lo * (1 - 1e-6) - 1e-8).all()
        assert (quote <= volume * h * (1 + 1e-6) + 1e-8).all()
        opens = open_ms(day)
        assert (np.diff(opens) == series.interval.ms).all()
        closes = day["close_time"].astype("int64").to_numpy()
        assert (closes == opens + series.interval.ms - 1).all()
        assert len(day) == series.interval.per_day
    # The second day opens where the first closed.
    assert days[1]["open"].iloc[0] == days[0]["close"].iloc[-1]
