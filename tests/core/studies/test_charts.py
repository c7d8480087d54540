"""The charts are PNG bytes; the studies load without Dagster and without pyplot."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

from qlir_core.studies import band_touch_study, sma_study
from qlir_core.studies.charts import band_daily_png, band_shares_png, sma_survival_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _walk(make_candles: Callable[..., pd.DataFrame], n: int = 3_000) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 1e-3, n)))
    return make_candles(close, close=close, steps=[1] * 1_000 + [4] + [1] * (n - 1_001))


def test_charts_are_png(make_candles: Callable[..., pd.DataFrame]) -> None:
    candles = _walk(make_candles)
    survival = sma_study(candles, series="EX-1m").survival
    bands = band_touch_study(candles, series="EX-1m")
    for png in (
        sma_survival_png(survival),
        band_shares_png(bands.labels),
        band_daily_png(bands.daily),
    ):
        assert png.startswith(PNG_SIGNATURE)


def test_charts_of_empty_tables_still_draw(make_candles: Callable[..., pd.DataFrame]) -> None:
    candles = make_candles(np.ones(5))
    survival = sma_study(candles, series="EX-1m").survival
    bands = band_touch_study(candles, series="EX-1m")
    assert sma_survival_png(survival).startswith(PNG_SIGNATURE)
    assert band_shares_png(bands.labels).startswith(PNG_SIGNATURE)
    assert band_daily_png(bands.daily).startswith(PNG_SIGNATURE)


def test_studies_import_neither_dagster_nor_pyplot() -> None:
    code = (
        "import sys, qlir_core.studies, qlir_core.studies.charts; "
        "print(sorted(m for m in ('dagster', 'matplotlib.pyplot') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
