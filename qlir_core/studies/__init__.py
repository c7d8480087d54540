"""The studies: plain functions over one series' candle table, returning frozen tables.

Definitions and worked examples: docs/STUDIES.md. No Dagster here; the assets call these.
"""

from qlir_core.studies import builtin  # noqa: F401  (registers the built-in studies)
from qlir_core.studies.band_touch import BandTouchStudy, Label, band_touch_study
from qlir_core.studies.registry import Study, StudyResult, registered, study
from qlir_core.studies.sma import Direction, SmaStudy, sma_study

__all__ = [
    "BandTouchStudy",
    "Direction",
    "Label",
    "SmaStudy",
    "Study",
    "StudyResult",
    "band_touch_study",
    "registered",
    "sma_study",
    "study",
]
