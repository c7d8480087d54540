"""Bollinger band touches (docs/STUDIES.md, "Band-touch study"): which bands a candle touches, and
what price did next.

Bands are TA-Lib `BBANDS(close, 20, 2, 2, matype=0)` per contiguous segment, so a candle has bands
only when the 20 candles ending at it are contiguous. Each candle with bands gets exactly one of ten
labels (an ordered category); forward returns and transitions never look across a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import numpy.typing as npt
import pandas as pd

from qlir_core.candles import open_ms as candle_open_ms
from qlir_core.indicators import Bands, BoolArray, FloatArray, IntArray, bbands, segment_ids
from qlir_core.intervals import DAY_MS
from qlir_core.studies.squeeze import (
    BREAKOUTS,
    SQUEEZE_LOOKBACK,
    SQUEEZE_QUANTILE,
    band_width,
    breakout_codes,
    squeeze,
    squeeze_ends,
)

HORIZONS = (1, 5, 20)
FORWARD_STATS = ("horizon", "n", "mean_bps", "median_bps", "share_positive")
BREAKOUT_DTYPE = pd.CategoricalDtype(list(BREAKOUTS))
TIE_REL = 1e-12  # a low or high this close to a band (relative) touches it
CodeArray = npt.NDArray[np.int8]


class Label(Enum):
    """A candle's position against the bands, in the order of the category (low to high)."""

    FULLY_BELOW = "fully_below"
    TOUCH_LOWER = "touch_lower"
    WITHIN_LOWER_RNG = "within_lower_rng"
    TOUCH_LOWER_MID = "touch_lower_mid"
    TOUCH_MID = "touch_mid"
    TOUCH_MID_UPPER = "touch_mid_upper"
    WITHIN_UPPER_RNG = "within_upper_rng"
    TOUCH_UPPER = "touch_upper"
    FULLY_ABOVE = "fully_above"
    TOUCH_ALL = "touch_all"

    @property
    def code(self) -> int:
        """Position in the category (what `codes` arrays hold; −1 is "no bands")."""
        return _ORDER.index(self)


_ORDER = list(Label)
LABELS = tuple(label.value for label in Label)
LABEL_DTYPE = pd.CategoricalDtype(list(LABELS), ordered=True)
NO_LABEL = -1
# Touch mask (1·lower + 2·mid + 4·upper) → label code. Mask 0 is resolved by region; mask 5 cannot
# happen with lower ≤ mid ≤ upper (touching both outer bands means touching the mid too).
_MASK_CODE = np.array(
    [
        NO_LABEL,
        Label.TOUCH_LOWER.code,
        Label.TOUCH_MID.code,
        Label.TOUCH_LOWER_MID.code,
        Label.TOUCH_UPPER.code,
        NO_LABEL,
        Label.TOUCH_MID_UPPER.code,
        Label.TOUCH_ALL.code,
    ],
    dtype=np.int8,
)


@dataclass(frozen=True)
class Touches:
    """Per candle: the three touch flags and the label code (NO_LABEL where there are no bands)."""

    lower: BoolArray
    mid: BoolArray
    upper: BoolArray
    codes: CodeArray

    @property
    def labels(self) -> pd.Categorical:
        return pd.Categorical.from_codes(self.codes, dtype=LABEL_DTYPE)


@dataclass(frozen=True)
class BandTouchStudy:
    """The study's tables.

    per_candle:  open_time, lower, mid, upper, touch_lower, touch_mid, touch_upper, label,
                 width, squeeze (null without a full lookback of widths)
    labels:      series, label, count, share
    daily:       series, day, label, count
    forward:     series, label, horizon, n, mean_bps, median_bps, share_positive
    transitions: series, from_label, to_label, count
    squeeze_forward: series, breakout, horizon, n, mean_bps, median_bps, share_positive
    """

    per_candle: pd.DataFrame
    labels: pd.DataFrame
    daily: pd.DataFrame
    forward: pd.DataFrame
    transitions: pd.DataFrame
    squeeze_forward: pd.DataFrame


def band_touch_study(
    candles: pd.DataFrame,
    *,
    series: str,
    period: int = 20,
    k: float = 2.0,
    rel_tol: float = 0.001,
    abs_eps: float = 0.0,
    horizons: Sequence[int] = HORIZONS,
    squeeze_lookback: int = SQUEEZE_LOOKBACK,
    squeeze_quantile: float = SQUEEZE_QUANTILE,
    interval_ms: int | None = None,
) -> BandTouchStudy:
    """Band touches of one series' history, sorted by open time (interval inferred if omitted)."""
    if not horizons or any(h < 1 for h in horizons):
        raise ValueError(f"horizons must be positive integers, got {tuple(horizons)}")
    opens_ms = candle_open_ms(candles)
    segment = segment_ids(opens_ms, interval_ms)
    close = candles["close"].to_numpy(dtype=np.float64)
    bands = bbands(close, opens_ms, period, k, interval_ms=interval_ms)
    touches = classify(
        candles["low"].to_numpy(dtype=np.float64),
        candles["high"].to_numpy(dtype=np.float64),
        close,
        bands,
        rel_tol=rel_tol,
        abs_eps=abs_eps,
    )
    counts = np.bincount(touches.codes[touches.codes >= 0], minlength=len(LABELS))
    total = int(counts.sum())
    labels = pd.DataFrame(
        {
            "series": series,
            "label": _categories(np.arange(len(LABELS))),
            "count": counts.astype(np.int64),
            "share": counts / total if total else np.full(len(LABELS), np.nan),
        }
    )
    regime = squeeze(band_width(bands), squeeze_lookback, squeeze_quantile)
    per_candle = _per_candle(candles, bands, touches)
    per_candle["width"] = regime.width
    per_candle["squeeze"] = pd.arrays.BooleanArray(regime.flag, ~regime.defined)
    breakouts = breakout_codes(squeeze_ends(regime, segment), close, bands.mid)
    after = forward_returns(close, segment, breakouts, len(BREAKOUTS), horizons)
    breakout = after.pop("group").to_numpy()
    after.insert(
        0, "breakout", pd.Series(pd.Categorical.from_codes(breakout, dtype=BREAKOUT_DTYPE))
    )
    after.insert(0, "series", series)
    return BandTouchStudy(
        per_candle=per_candle,
        labels=labels,
        daily=_daily(series, opens_ms, touches.codes),
        forward=_forward(series, close, segment, touches.codes, horizons),
        transitions=_transitions(series, segment, touches.codes),
        squeeze_forward=after,
    )


def classify(
    low: FloatArray,
    high: FloatArray,
    close: FloatArray,
    bands: Bands,
    *,
    rel_tol: float = 0.001,
    abs_eps: float = 0.0,
) -> Touches:
    """Touch flags and labels: B is touched when low ≤ B ≤ high (to within TIE_REL relative)
    or |close − B| ≤ eps."""
    has_bands = ~(np.isnan(bands.lower) | np.isnan(bands.mid) | np.isnan(bands.upper))
    eps = np.maximum(rel_tol * (bands.upper - bands.lower), abs_eps)
    # NaN bands compare False everywhere; has_bands keeps those rows unflagged and unlabelled.
    # A band within TIE_REL of the low or high counts as touched: TA-Lib's running sums can put
    # a band a few ulps off the value it would have exactly.
    flags = [
        has_bands
        & (
            ((low - TIE_REL * np.abs(b) <= b) & (b <= high + TIE_REL * np.abs(b)))
            | (np.abs(close - b) <= eps)
        )
        for b in (bands.lower, bands.mid, bands.upper)
    ]
    mask = flags[0] * 1 + flags[1] * 2 + flags[2] * 4
    if (mask == 5).any():
        raise ValueError("bands out of order: lower and upper touched but not mid")
    # Mask 0: the candle lies wholly inside one region, told apart by its high.
    region = np.select(
        [high < bands.lower, high < bands.mid, high < bands.upper],
        [Label.FULLY_BELOW.code, Label.WITHIN_LOWER_RNG.code, Label.WITHIN_UPPER_RNG.code],
        Label.FULLY_ABOVE.code,
    )
    codes = np.where(mask == 0, region, _MASK_CODE[mask])
    codes = np.where(has_bands, codes, NO_LABEL).astype(np.int8)
    return Touches(lower=flags[0], mid=flags[1], upper=flags[2], codes=codes)


def _per_candle(candles: pd.DataFrame, bands: Bands, touches: Touches) -> pd.DataFrame:
    no_bands = touches.codes == NO_LABEL
    flags = {
        f"touch_{name}": pd.arrays.BooleanArray(values, no_bands)
        for name, values in (
            ("lower", touches.lower),
            ("mid", touches.mid),
            ("upper", touches.upper),
        )
    }
    return pd.DataFrame(
        {
            "open_time": candles["open_time"].reset_index(drop=True),
            "lower": bands.lower,
            "mid": bands.mid,
            "upper": bands.upper,
            **flags,
            "label": touches.labels,
        }
    )


def _daily(series: str, opens_ms: IntArray, codes: CodeArray) -> pd.DataFrame:
    """Label counts per UTC day, for every day with a candle (zeros included)."""
    days, day_index = np.unique(opens_ms // DAY_MS, return_inverse=True)
    labelled = codes >= 0
    n = len(LABELS)
    counts = np.bincount(day_index[labelled] * n + codes[labelled], minlength=len(days) * n)
    day_times = pd.DatetimeIndex((np.repeat(days, n) * DAY_MS).astype("datetime64[ms]"))
    return pd.DataFrame(
        {
            "series": series,
            "day": day_times.tz_localize("UTC"),
            "label": _categories(np.tile(np.arange(n), len(days))),
            "count": counts.astype(np.int64),
        }
    )


def _forward(
    series: str,
    close: FloatArray,
    segment: IntArray,
    codes: CodeArray,
    horizons: Sequence[int],
) -> pd.DataFrame:
    """Forward returns (close(t+h)/close(t) − 1)·1e4 per label, only where t+h is in t's segment."""
    table = forward_returns(close, segment, codes, len(LABELS), horizons)
    table["label"] = _categories(table.pop("group").to_numpy())
    table.insert(0, "series", series)
    return table.loc[:, ["series", "label", *FORWARD_STATS]]


def forward_returns(
    close: FloatArray,
    segment: IntArray,
    codes: npt.NDArray[np.integer],
    n_groups: int,
    horizons: Sequence[int],
) -> pd.DataFrame:
    """Per group code (0 … n_groups − 1; negative codes are skipped) and horizon h: n, mean and
    median of (close(t+h)/close(t) − 1)·1e4 and the share positive, where t+h is in t's segment."""
    rows = []
    for h in horizons:
        start = codes[:-h] if h < len(codes) else codes[:0]
        ok = (start >= 0) & (segment[h:] == segment[: len(start)])
        at = np.flatnonzero(ok)
        ret = (close[at + h] / close[at] - 1.0) * 1e4
        code = start[at].astype(np.int64)
        n = np.bincount(code, minlength=n_groups)
        sums = np.bincount(code, weights=ret, minlength=n_groups)
        positive = np.bincount(code, weights=ret > 0, minlength=n_groups)
        order = np.argsort(code, kind="stable")
        by_group = np.split(ret[order], np.cumsum(n)[:-1])
        for c in range(n_groups):
            empty = n[c] == 0
            rows.append(
                {
                    "group": c,
                    "horizon": h,
                    "n": int(n[c]),
                    "mean_bps": np.nan if empty else sums[c] / n[c],
                    "median_bps": np.nan if empty else float(np.median(by_group[c])),
                    "share_positive": np.nan if empty else positive[c] / n[c],
                }
            )
    return pd.DataFrame(rows, columns=["group", *FORWARD_STATS]).astype(
        {"group": "int64", "horizon": "int64", "n": "int64"}
    )


def _transitions(series: str, segment: IntArray, codes: CodeArray) -> pd.DataFrame:
    """Counts of label(t) → label(t+1) over contiguous pairs where both candles have a label."""
    n = len(LABELS)
    ok = (codes[:-1] >= 0) & (codes[1:] >= 0) & (segment[1:] == segment[:-1])
    pairs = codes[:-1][ok].astype(np.int64) * n + codes[1:][ok]
    counts = np.bincount(pairs, minlength=n * n)
    grid = np.arange(n * n)
    return pd.DataFrame(
        {
            "series": series,
            "from_label": _categories(grid // n),
            "to_label": _categories(grid % n),
            "count": counts.astype(np.int64),
        }
    )


def _categories(codes: npt.NDArray[np.integer]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=LABEL_DTYPE)
