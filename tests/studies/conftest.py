"""Candle tables for the study tests (the builder and strategy of tests/core), and the real
ETHUSDT mirror days as one history."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import strategies as st

from qlir_core.candles import from_csv
from qlir_sim.formats import read_zip
from tests.core.conftest import MakeCandles, build_candles
from tests.core.conftest import _candles as candle_strategy


@pytest.fixture(scope="session")
def make_candles() -> MakeCandles:
    return build_candles


@pytest.fixture(scope="session")
def candle_tables() -> st.SearchStrategy[pd.DataFrame]:
    """Up to 400 candles with gaps: long enough for several legs of each direction."""
    return candle_strategy(max_size=400, max_wick=12)


@pytest.fixture(scope="session")
def eth_days(mirror: Path) -> pd.DataFrame:
    """ETHUSDT-1m 2022-08-14 and 15 from the real archive, as one history."""
    zips = sorted(mirror.glob("data/spot/daily/klines/ETHUSDT/1m/*.zip"))
    frames = [from_csv(read_zip(z.read_bytes()), source=str(z)) for z in zips]
    return pd.concat(frames, ignore_index=True).sort_values("open_time", ignore_index=True)
