"""Band width and the squeeze flag (the STUDIES.md example), forward returns after a squeeze, and
exact ties with a band."""

import numpy as np
import pandas as pd

from qlir_core.indicators import Bands
from qlir_core.studies import band_touch_study
from qlir_core.studies.band_touch import Label, classify
from qlir_core.studies.squeeze import squeeze, squeeze_ends
from tests.core.conftest import MakeCandles

WIDTHS = [0.10, 0.12, 0.08, 0.09, 0.11, 0.07, 0.10, 0.13]


def test_worked_example_squeeze() -> None:
    """STUDIES.md: lookback 5, quantile 20 %."""
    state = squeeze(np.array(WIDTHS), lookback=5, quantile=0.2)
    assert state.defined.tolist() == [False] * 4 + [True] * 4
    np.testing.assert_allclose(state.quantile[4:], [0.088, 0.078, 0.078, 0.086], rtol=1e-12)
    assert state.flag.tolist() == [False] * 5 + [True, False, False]
    assert squeeze_ends(state, np.zeros(8, dtype=np.int64)).tolist() == [6]
    # A gap between t5 and t6 (another segment): the squeeze does not end across it.
    assert squeeze_ends(state, np.array([0] * 6 + [1, 1])).tolist() == []


def test_the_band_study_reports_width_squeeze_and_forward_returns(
    make_candles: MakeCandles,
) -> None:
    t = np.arange(600)
    # Calm stretches (narrow bands) between swings: squeezes start and end.
    opens = 100 + np.where((t // 100) % 2 == 0, 0.05, 3.0) * np.sin(t / 3.0) + t * 0.01
    study = band_touch_study(make_candles(opens), series="EX-1m", squeeze_lookback=50)
    per = study.per_candle
    width = (per["upper"] - per["lower"]) / per["mid"]
    np.testing.assert_allclose(per["width"], width)
    assert per["squeeze"].isna().sum() == 19 + 49  # no bands, then no full lookback of widths
    assert per["squeeze"].fillna(False).any()
    forward = study.squeeze_forward
    assert set(forward["breakout"].astype(str)) == {"up", "down"}
    assert forward["n"].sum() > 0


def test_a_low_or_high_within_1e_12_of_a_band_touches_it() -> None:
    lower, mid, upper = 90.0, 100.0, 110.0

    def label(low: float, high: float) -> Label:
        bands = Bands(np.array([lower]), np.array([mid]), np.array([upper]))
        close = np.array([(low + high) / 2])
        codes = classify(np.array([low]), np.array([high]), close, bands).codes
        return list(Label)[int(codes[0])]

    # The high a few ulps below the lower band (as TA-Lib's running sums can leave it): a touch.
    assert label(85.0, lower * (1 - 4e-16)) is Label.TOUCH_LOWER
    assert label(85.0, lower * (1 - 5e-13)) is Label.TOUCH_LOWER
    assert label(85.0, lower * (1 - 1e-11)) is Label.FULLY_BELOW
    # The low just above the mid and the high just below the upper band: both touched.
    assert label(mid * (1 + 5e-13), upper * (1 - 5e-13)) is Label.TOUCH_MID_UPPER
    assert label(mid * (1 + 1e-11), upper * (1 - 1e-11)) is Label.WITHIN_UPPER_RNG


def test_squeeze_columns_are_typed(make_candles: MakeCandles) -> None:
    per = band_touch_study(make_candles(np.linspace(100, 110, 200)), series="EX-1m").per_candle
    assert per["squeeze"].dtype == pd.BooleanDtype()
    assert per["width"].dtype == np.float64
