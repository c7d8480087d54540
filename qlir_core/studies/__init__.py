"""The studies: plain functions over one series' candle table, returning frozen tables.

Definitions and worked examples: docs/STUDIES.md. No Dagster here; the assets call these.
"""

from qlir_core.studies.band_touch import BandTouchStudy, Label, band_touch_study
from qlir_core.studies.sma import Direction, SmaStudy, sma_study

__all__ = [
    "BandTouchStudy",
    "Direction",
    "Label",
    "SmaStudy",
    "band_touch_study",
    "sma_study",
]
