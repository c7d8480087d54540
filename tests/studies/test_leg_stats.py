"""The MFE timing curve (the STUDIES.md example) and legs per 1, 7 and 30 days."""

import numpy as np

from qlir_core.studies import sma_study
from qlir_core.studies.leg_stats import distribution, legs_per_period, mfe_timing
from qlir_core.studies.sma import MFE_TIMING_COLUMNS, PERIOD_COLUMNS
from tests.core.conftest import MakeCandles

WORKED_OPENS = [1.0, 2, 3, 4, 3, 2, 2, 3, 4, 5, 6]


def test_worked_example_mfe_timing(make_candles: MakeCandles) -> None:
    """STUDIES.md: up legs (L 2, MFE at 1) and (L 4, MFE at 3); down leg (L 2, MFE at 0)."""
    timing = sma_study(make_candles(WORKED_OPENS), series="EX-1m", windows=(2,)).mfe_timing
    assert list(timing.columns) == list(MFE_TIMING_COLUMNS)
    up = timing[timing["direction"] == "up"]
    assert up["t"].tolist() == [0, 1, 2, 3]
    assert up["legs_running"].tolist() == [2, 2, 1, 1]
    assert up["mfe_done"].tolist() == [0, 1, 0, 1]
    assert up["share_done"].tolist() == [0.0, 0.5, 0.0, 1.0]
    down = timing[timing["direction"] == "down"]
    assert down["share_done"].tolist() == [1.0, 1.0]


def test_mfe_timing_against_a_count() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 30, 500)
    index = (rng.random(500) * lengths).astype(np.int64)
    table = mfe_timing(lengths, index)
    for t in (0, 5, 17, 28):
        running = lengths > t
        row = table[table["t"] == t].iloc[0]
        assert row["legs_running"] == running.sum()
        assert row["mfe_done"] == (running & (index <= t)).sum()


def test_legs_per_period_counts_full_blocks_with_candles() -> None:
    days = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21])  # a halt from day 10 to 19
    leg_days = np.array([0, 0, 1, 6, 7, 9, 9, 9, 20])
    assert legs_per_period(leg_days, days, 1).tolist() == [2, 1, 0, 0, 0, 0, 1, 1, 0, 3, 1, 0]
    # Blocks of 7 from day 0: [0–6] 4, [7–13] 4, [14–20] 1; day 21 starts a block not yet full.
    assert legs_per_period(leg_days, days, 7).tolist() == [4, 4, 1]
    assert legs_per_period(leg_days, days, 30).tolist() == []
    spread = distribution(np.array([2, 1, 0, 0, 0, 0, 1, 1, 0, 3, 1, 0]))
    assert spread["legs"].tolist() == [0, 1, 2, 3]
    assert spread["periods"].tolist() == [6, 4, 1, 1]
    assert spread["share"].sum() == 1.0


def test_the_study_reports_the_distributions(make_candles: MakeCandles) -> None:
    opens = 100 + np.sin(np.arange(3 * 1440) / 7.0)  # three days, many short legs
    study = sma_study(make_candles(opens), series="EX-1m", windows=(3,))
    table = study.legs_per_period
    assert list(table.columns) == list(PERIOD_COLUMNS)
    day = table[(table["direction"] == "up") & (table["days"] == 1)]
    assert day["periods"].sum() == 3
    legs = study.legs[study.legs["direction"] == "up"]
    assert (day["legs"] * day["periods"]).sum() == len(legs)
    assert len(legs) // 3 <= day["legs"].max() <= len(legs)
