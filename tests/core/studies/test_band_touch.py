"""The band-touch study: the worked cases of docs/STUDIES.md, gaps, and properties."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core import candles as candle_table
from qlir_core.candles import open_ms
from qlir_core.indicators import Bands
from qlir_core.intervals import MINUTE_MS
from qlir_core.studies import BandTouchStudy, Label, band_touch_study
from qlir_core.studies.band_touch import LABEL_DTYPE, LABELS, classify

MakeCandles = Callable[..., pd.DataFrame]
Oracle = Callable[[pd.DataFrame, int], np.ndarray]

# docs/STUDIES.md: lower 90, mid 100, upper 110 (eps 0.02).
WORKED_CASES = [
    (85, 95, 92, "touch_lower"),
    (95, 105, 101, "touch_mid"),
    (88, 101, 95, "touch_lower_mid"),
    (99, 112, 105, "touch_mid_upper"),
    (80, 120, 100.5, "touch_all"),
    (92, 98, 95, "within_lower_rng"),
    (102, 108, 105, "within_upper_rng"),
    (85, 89, 87, "fully_below"),
    (111, 115, 113, "fully_above"),
    (89.5, 89.99, 89.985, "touch_lower"),  # close within eps of 90
]


def _constant_bands(n: int, lower: float = 90.0, mid: float = 100.0, upper: float = 110.0) -> Bands:
    return Bands(lower=np.full(n, lower), mid=np.full(n, mid), upper=np.full(n, upper))


@pytest.mark.parametrize(("low", "high", "close", "label"), WORKED_CASES)
def test_worked_case(low: float, high: float, close: float, label: str) -> None:
    touches = classify(np.array([low]), np.array([high]), np.array([close]), _constant_bands(1))
    assert touches.labels.tolist() == [label]


def test_worked_cases_together_and_the_eps_edge() -> None:
    low, high, close, labels = (np.array(column) for column in zip(*WORKED_CASES, strict=True))
    touches = classify(
        low.astype(float), high.astype(float), close.astype(float), _constant_bands(10)
    )
    assert touches.labels.tolist() == labels.tolist()
    # eps = 0.001 × 20 = 0.02: a close 0.021 below the lower band is no touch, 0.019 is.
    far, near = classify(
        np.array([89.0, 89.0]),
        np.array([89.979, 89.981]),
        np.array([89.979, 89.981]),
        _constant_bands(2),
    ).labels.tolist()
    assert (far, near) == ("fully_below", "touch_lower")
    # abs_eps takes over when it is larger than the relative tolerance.
    wide = classify(
        np.array([89.0]), np.array([89.9]), np.array([89.9]), _constant_bands(1), abs_eps=0.5
    )
    assert wide.labels.tolist() == ["touch_lower"]


def test_labels_are_an_ordered_category_in_the_documented_order() -> None:
    documented = (
        "fully_below touch_lower within_lower_rng touch_lower_mid touch_mid "
        "touch_mid_upper within_upper_rng touch_upper fully_above touch_all"
    )
    assert tuple(documented.split()) == LABELS
    assert LABEL_DTYPE.ordered
    assert [label.value for label in Label] == list(LABELS)
    assert [label.code for label in Label] == list(range(10))


def test_candles_without_bands_have_no_label(make_candles: MakeCandles) -> None:
    # 25 contiguous candles, a gap, then 10: bands exist for rows 19 … 24 only.
    steps = [1] * 25 + [3] + [1] * 9
    candles = make_candles(100 + np.sin(np.arange(35.0)), steps=steps)
    per_candle = band_touch_study(candles, series="EX-1m").per_candle
    has = per_candle["label"].notna().to_numpy()
    assert np.flatnonzero(has).tolist() == list(range(19, 25))
    assert per_candle.loc[~has, ["touch_lower", "touch_mid", "touch_upper"]].isna().all().all()
    assert per_candle.loc[~has, ["lower", "mid", "upper"]].isna().all().all()


def test_forward_returns_never_cross_a_gap(make_candles: MakeCandles) -> None:
    """Before the gap the close wobbles around 100; after it, it is 1000× higher."""
    rng = np.random.default_rng(3)
    before = 100 + rng.normal(0, 1, 60)
    after = 100_000 + rng.normal(0, 1000, 60)
    close = np.concatenate((before, after))
    candles = make_candles(close, steps=[1] * 60 + [5] + [1] * 59, close=close)
    study = band_touch_study(candles, series="EX-1m")
    forward = study.forward
    # Returns within a segment stay within a few hundred bps; one across the gap would be ~1e7.
    assert forward["mean_bps"].abs().max() < 1_000
    # n per horizon: labelled candles (rows 19 … 59 and 79 … 119) with t+h in their segment.
    for h in (1, 5, 20):
        expected = (60 - h - 19) + (120 - h - 79)
        assert forward.loc[forward["horizon"] == h, "n"].sum() == expected
    # Transitions: 40 + 40 contiguous labelled pairs, none from row 59 to row 79.
    assert study.transitions["count"].sum() == 80


def test_empty_history() -> None:
    study = band_touch_study(candle_table.empty(), series="EX-1m")
    assert isinstance(study, BandTouchStudy)
    assert study.per_candle.empty
    assert study.daily.empty
    assert study.labels["count"].sum() == 0
    assert study.forward["n"].sum() == 0


def _oracle_label(
    low: float, high: float, close: float, bands: tuple[float, float, float], abs_eps: float
) -> str:
    """The rules of docs/STUDIES.md, one candle at a time."""
    lower, mid, upper = bands
    eps = max(0.001 * (upper - lower), abs_eps)
    t = [low <= b <= high or abs(close - b) <= eps for b in bands]
    mask = t[0] * 1 + t[1] * 2 + t[2] * 4
    by_mask = {
        7: "touch_all",
        3: "touch_lower_mid",
        6: "touch_mid_upper",
        1: "touch_lower",
        2: "touch_mid",
        4: "touch_upper",
    }
    if mask:
        return by_mask[mask]
    if high < lower:
        return "fully_below"
    if lower < low and high < mid:
        return "within_lower_rng"
    if mid < low and high < upper:
        return "within_upper_rng"
    assert low > upper
    return "fully_above"


def _contiguous_after(times: list[int], i: int, h: int) -> bool:
    return i + h < len(times) and times[i + h] - times[i] == h * MINUTE_MS


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(),
    period=st.integers(2, 25),
    abs_eps=st.sampled_from([0.0, 0.5]),
)
def test_band_touch_properties(
    data: st.DataObject,
    period: int,
    abs_eps: float,
    candle_tables: st.SearchStrategy[pd.DataFrame],
    window_oracle: Oracle,
) -> None:
    candles = data.draw(candle_tables)
    study = band_touch_study(candles, series="P-1m", period=period, abs_eps=abs_eps)
    per = study.per_candle
    label = per["label"]
    has_bands = window_oracle(candles, period)

    # Exactly one label per candle with bands, none without.
    np.testing.assert_array_equal(label.notna().to_numpy(), has_bands)
    np.testing.assert_array_equal(per["mid"].notna().to_numpy(), has_bands)
    flags = per[["touch_lower", "touch_mid", "touch_upper"]]
    np.testing.assert_array_equal(flags.notna().all(axis=1).to_numpy(), has_bands)
    assert flags.isna().all(axis=1).to_numpy()[~has_bands].all()
    assert label.dtype == LABEL_DTYPE

    # Mask 5 never occurs; a candle covering all three bands is touch_all.
    lo, md, up = (flags[c].fillna(False).to_numpy(dtype=bool) for c in flags.columns)
    assert not (lo & up & ~md).any()
    covers = has_bands & (candles["low"] <= per["lower"]) & (per["upper"] <= candles["high"])
    assert (label[covers.to_numpy()] == "touch_all").all()

    # Each label is the one the rules give, candle by candle.
    prices = candles[["low", "high", "close"]].itertuples(index=False)
    bands = per[["lower", "mid", "upper"]].itertuples(index=False)
    for (low, high, close), row_bands, got in zip(prices, bands, label, strict=True):
        if not np.isnan(row_bands[1]):
            assert got == _oracle_label(low, high, close, tuple(row_bands), abs_eps)

    # Counts and shares per label; shares sum to 1; per-day counts add up to them.
    counts = study.labels.set_index("label")["count"]
    assert counts.to_dict() == {name: int((label == name).sum()) for name in LABELS}
    if has_bands.any():
        assert study.labels["share"].sum() == pytest.approx(1.0, abs=1e-12)
    daily = study.daily.groupby("label", observed=False)["count"].sum()
    assert daily.reindex(list(LABELS)).tolist() == counts.tolist()

    # Forward returns and transitions match a one-candle-at-a-time count, never across a gap.
    times = open_ms(candles).tolist()
    close = candles["close"].tolist()
    names = label.astype(object).where(label.notna(), None).tolist()
    for h in (1, 5, 20):
        returns: dict[str, list[float]] = {name: [] for name in LABELS}
        for i, name in enumerate(names):
            if name is not None and _contiguous_after(times, i, h):
                returns[name].append((close[i + h] / close[i] - 1) * 1e4)
        got = study.forward[study.forward["horizon"] == h].set_index("label")
        for name, values in returns.items():
            assert got.loc[name, "n"] == len(values)
            if values:
                assert got.loc[name, "mean_bps"] == pytest.approx(np.mean(values), abs=1e-9)
                assert got.loc[name, "median_bps"] == pytest.approx(np.median(values), abs=1e-9)
                share = np.mean(np.asarray(values) > 0)
                assert got.loc[name, "share_positive"] == pytest.approx(share)
            else:
                assert np.isnan(got.loc[name, "mean_bps"])
    pairs = Counter(
        (names[i], names[i + 1])
        for i in range(len(names) - 1)
        if names[i] is not None and names[i + 1] is not None and _contiguous_after(times, i, 1)
    )
    transitions = study.transitions
    observed = {
        (str(row.from_label), str(row.to_label)): int(row.count)
        for row in transitions.itertuples(index=False)
        if row.count
    }
    assert observed == dict(pairs)
    assert len(transitions) == 100
