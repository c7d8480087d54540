"""The SMA study: the worked example of docs/STUDIES.md, its gap case, and properties."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlir_core import candles as candle_table
from qlir_core.candles import open_ms
from qlir_core.indicators import follows_previous, sma
from qlir_core.intervals import MINUTE_MS
from qlir_core.studies import Direction, SmaStudy, sma_study
from qlir_core.studies.sma import LEG_COLUMNS, SUMMARY_COLUMNS, SURVIVAL_COLUMNS, directions

MakeCandles = Callable[..., pd.DataFrame]
NAN = np.nan


def _rows(table: pd.DataFrame, direction: Direction) -> pd.DataFrame:
    return table[table["direction"] == direction.value].reset_index(drop=True)


def _minute(candles: pd.DataFrame, t: int) -> pd.Timestamp:
    return candles["open_time"].iloc[t]


def test_worked_example_sma_and_directions(worked_sma_candles: pd.DataFrame) -> None:
    times = open_ms(worked_sma_candles)
    sma2 = sma(worked_sma_candles["open"], times, 2)
    expected = [NAN, 1.5, 2.5, 3.5, 3.5, 2.5, 2.0, 2.5, 3.5, 4.5, 5.5]
    np.testing.assert_array_equal(sma2, expected)
    d = directions(sma2, follows_previous(times))
    np.testing.assert_array_equal(d, [NAN, NAN, 1, 1, 0, -1, -1, 1, 1, 1, 1])


def test_worked_example_legs(worked_sma_candles: pd.DataFrame) -> None:
    legs = sma_study(worked_sma_candles, series="EX-1m", windows=(2,)).legs
    assert list(legs.columns) == list(LEG_COLUMNS)
    at = worked_sma_candles["open_time"]
    got = [
        (r.direction, r.start_time, r.end_time, r.length, r.first_price, r.last_price)
        for r in legs.itertuples()
    ]
    assert got == [
        ("up", at[2], at[3], 2, 3.0, 4.0),
        ("up", at[7], at[10], 4, 3.0, 6.0),
        ("down", at[5], at[6], 2, 2.0, 2.0),
    ]
    assert legs["series"].unique().tolist() == ["EX-1m"]
    assert legs["window"].unique().tolist() == [2]
    assert legs["leg_id"].tolist() == [0, 1, 0]
    np.testing.assert_allclose(legs["move_bps"], [1e4 / 3, 1e4, 0.0])
    # Highs are open + 0.5, lows open − 0.5: up t2–t3 peaks at t3 (4.5 vs first open 3),
    # up t7–t10 at t10 (6.5 vs 3), down t5–t6 bottoms at t5 (1.5 vs 2; t6 ties, the first wins).
    np.testing.assert_allclose(legs["mfe_bps"], [5_000.0, 35_000 / 3, 2_500.0])
    assert legs["mfe_index"].tolist() == [1, 3, 0]


def test_worked_example_survival(worked_sma_candles: pd.DataFrame) -> None:
    study = sma_study(worked_sma_candles, series="EX-1m", windows=(2,))
    assert list(study.survival.columns) == list(SURVIVAL_COLUMNS)
    up = _rows(study.survival, Direction.UP).set_index("n")
    assert up["survival"].to_dict() == {1: 1.0, 2: 1.0, 3: 0.5, 4: 0.5, 5: 0.0}
    assert up.loc[2, "continuation"] == 0.5
    assert up.loc[3, "continuation"] == 1.0
    assert up["legs_at_least"].tolist() == [2, 2, 1, 1, 0]
    summary = _rows(study.summary, Direction.UP).iloc[0]
    # S(4) = 0.5 > 10 %: the threshold would be 5, beyond the longest leg, so it is not observed.
    assert pd.isna(summary["tail_10pct"])
    assert summary["legs"] == 2
    assert summary["length_max"] == 4
    assert summary["length_mean"] == 3.0


def test_worked_example_gap_case(worked_sma_candles_without_t5: pd.DataFrame) -> None:
    """t5 missing: SMA2 is undefined at t6, so the down leg t5–t6 cannot form."""
    candles = worked_sma_candles_without_t5
    sma2 = sma(candles["open"], open_ms(candles), 2)
    assert np.isnan(sma2[5])  # the candle t6, first after the gap
    study = sma_study(candles, series="EX-1m", windows=(2,))
    assert _rows(study.legs, Direction.DOWN).empty
    assert _rows(study.summary, Direction.DOWN).iloc[0]["legs"] == 0
    up = _rows(study.legs, Direction.UP)
    assert up["length"].tolist() == [2, 3]  # t2–t3, and t8–t10 (t7's SMA2 follows a gap)


def test_a_leg_across_midnight_is_one_leg(make_candles: MakeCandles) -> None:
    start = pd.Timestamp("2024-03-01 23:50", tz="UTC").value // 10**6
    candles = make_candles(np.arange(20.0) + 100, start_ms=start)
    study = sma_study(candles, series="EX-1m", windows=(3,))
    up = _rows(study.legs, Direction.UP)
    assert len(up) == 1
    assert up.loc[0, "length"] == 17  # d is defined from the 4th candle on
    assert up.loc[0, "start_time"].day == 1
    assert up.loc[0, "end_time"].day == 2
    # One leg started over two calendar days with candles.
    summary = _rows(study.summary, Direction.UP).iloc[0]
    assert (summary["legs_per_day_mean"], summary["legs_per_day_median"]) == (0.5, 0.5)


def test_flat_tolerance(make_candles: MakeCandles) -> None:
    """A change below 1e-9 × SMA is flat (d = 0) and makes no leg; with tolerance 0 it does."""
    opens = 1_000.0 + np.arange(6) * 1e-7  # SMA2 steps of 1e-7 < 1e-9 × 1000
    candles = make_candles(opens)
    assert sma_study(candles, series="EX-1m", windows=(2,)).legs.empty
    legs = sma_study(candles, series="EX-1m", windows=(2,), flat_tol=0.0).legs
    assert legs["length"].tolist() == [4]


def test_price_column_is_a_parameter(make_candles: MakeCandles) -> None:
    candles = make_candles([5.0, 5, 5, 5, 5], close=[1.0, 2, 3, 4, 5])
    assert sma_study(candles, series="EX-1m", windows=(2,)).legs.empty
    legs = sma_study(candles, series="EX-1m", windows=(2,), price="close").legs
    assert (legs["direction"].tolist(), legs["length"].tolist()) == (["up"], [3])
    with pytest.raises(ValueError, match="price column"):
        sma_study(candles, series="EX-1m", price="vwap")


def test_empty_and_short_histories(make_candles: MakeCandles) -> None:
    for candles in (candle_table.empty(), make_candles(np.arange(14.0))):  # d needs 15
        study = sma_study(candles, series="EX-1m")
        assert isinstance(study, SmaStudy)
        assert study.legs.empty
        assert list(study.legs.columns) == list(LEG_COLUMNS)
        assert study.survival.empty
        assert list(study.summary.columns) == list(SUMMARY_COLUMNS)
        assert len(study.summary) == 6  # three default windows × two directions
        assert study.summary["legs"].tolist() == [0] * 6
        assert study.summary["tail_10pct"].isna().all()


def test_tables_are_frozen(worked_sma_candles: pd.DataFrame) -> None:
    study = sma_study(worked_sma_candles, series="EX-1m", windows=(2,))
    with pytest.raises(AttributeError):
        study.legs = pd.DataFrame()  # type: ignore[misc]


def _oracle_directions(candles: pd.DataFrame, window: int) -> np.ndarray:
    """d(t) one candle at a time: mean of the window if it is contiguous, sign of the change."""
    times = open_ms(candles).tolist()
    price = candles["open"].tolist()
    means: list[float | None] = []
    for i in range(len(price)):
        first = i - window + 1
        contiguous = first >= 0 and all(
            times[j + 1] - times[j] == MINUTE_MS for j in range(first, i)
        )
        means.append(sum(price[first : i + 1]) / window if contiguous else None)
    d = np.full(len(price), np.nan)
    for i in range(1, len(price)):
        now, before = means[i], means[i - 1]
        if now is None or before is None or times[i] - times[i - 1] != MINUTE_MS:
            continue
        delta = now - before
        d[i] = 0.0 if abs(delta) < 1e-9 * abs(now) else np.sign(delta)
    return d


@settings(max_examples=100, deadline=None)
@given(data=st.data(), window=st.integers(2, 6))
def test_leg_properties(
    data: st.DataObject, window: int, candle_tables: st.SearchStrategy[pd.DataFrame]
) -> None:
    candles = data.draw(candle_tables)
    study = sma_study(candles, series="P-1m", windows=(window,))
    legs, survival, summary = study.legs, study.survival, study.summary
    times = open_ms(candles)
    start = np.searchsorted(times, legs["start_time"].astype("int64").to_numpy())
    end = np.searchsorted(times, legs["end_time"].astype("int64").to_numpy())

    # Legs (up and down together) never overlap and never contain a gap.
    order = np.argsort(start)
    assert (start[order][1:] > end[order][:-1]).all()
    assert (end - start + 1 == legs["length"].to_numpy()).all()
    assert (times[end] - times[start] == (legs["length"].to_numpy() - 1) * MINUTE_MS).all()

    # Every candle with d = +1 lies in exactly one up leg (−1: one down leg); others in none.
    d = _oracle_directions(candles, window)
    for direction in Direction:
        cover = np.zeros(len(candles), dtype=np.int64)
        mine = (legs["direction"] == direction.value).to_numpy()
        for s, e in zip(start[mine], end[mine], strict=True):
            cover[s : e + 1] += 1
        np.testing.assert_array_equal(cover, (d == direction.sign).astype(np.int64))

    for direction in Direction:
        s = _rows(survival, direction)
        row = _rows(summary, direction).iloc[0]
        n_legs = int((legs["direction"] == direction.value).sum())
        assert row["legs"] == n_legs
        if n_legs == 0:
            assert s.empty
            continue
        # S(N) starts at 1, never increases, and ends at 0; c(N) is a probability.
        values = s["survival"].to_numpy()
        assert s["n"].tolist() == list(range(1, len(s) + 1))
        assert values[0] == 1.0
        assert values[-1] == 0.0
        assert (np.diff(values) <= 0).all()
        c = s["continuation"].to_numpy()[:-1]
        assert ((c >= 0) & (c <= 1)).all()
        # Observed tail thresholds are ordered and within 1 … max L; the rest are null.
        values = [row[c] for c in ("tail_10pct", "tail_5pct", "tail_1pct", "tail_0_1pct")]
        tails = [int(v) for v in values if not pd.isna(v)]
        assert tails == sorted(tails)
        assert all(1 <= t <= int(row["length_max"]) for t in tails)
        assert all(pd.isna(v) for v in values[len(tails) :])

    assert (legs["mfe_bps"] >= 0).all()
    assert (legs["mfe_index"] < legs["length"]).all()
    assert set(legs["direction"]) <= {"up", "down"}
