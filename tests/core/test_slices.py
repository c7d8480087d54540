import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlir_core.intervals import DAY_MS, Interval
from qlir_core.series import Series
from qlir_core.slices import SliceKey, day_start_ms, plan_day, slice_id, whole_day

DAY = date(2023, 1, 21)
DAY_START = 1674259200000


@pytest.mark.parametrize(
    ("interval", "limits"),
    [
        ("1m", [1000, 440]),
        ("1s", [1000] * 86 + [400]),
        ("3m", [480]),
        ("1h", [24]),
        ("1d", [1]),
    ],
)
def test_a_day_is_cut_into_day_aligned_slices_of_at_most_1000(interval, limits):
    series = Series.parse(f"BTCUSDT-{interval}")
    slices = plan_day(series, DAY)
    assert [s.limit for s in slices] == limits
    assert slices[0].start_ms == DAY_START
    assert slices[-1].end_ms == DAY_START + DAY_MS - 1


def test_slice_keys_and_ids():
    first, second = plan_day(Series.parse("BTCUSDT-1m"), DAY)
    assert first.key == "BTCUSDT:1m:1674259200000:1000"
    assert second.key == "BTCUSDT:1m:1674319200000:440"
    assert first.slice_id == slice_id(first.key)
    assert len(first.slice_id) == 32
    assert first.slice_id != second.slice_id


@pytest.mark.parametrize(
    "bad",
    ["BTCUSDT:1m:1674259200000", "BTCUSDT:1m:-5:1000", "BTCUSDT:1m:x:1000", "BTCUSDT:7m:0:10"],
)
def test_bad_slice_keys_are_rejected(bad):
    with pytest.raises(ValueError, match=r"slice key|unknown interval"):
        SliceKey.parse(bad)


@given(
    interval=st.sampled_from([i for i in Interval if i.tiles_day]),
    day=st.dates(min_value=date(2017, 8, 17), max_value=date(2030, 1, 1)),
)
def test_slices_tile_the_day_without_overlap(interval, day):
    series = Series("ETHUSDT", interval)
    slices = plan_day(series, day)
    assert sum(s.limit for s in slices) == interval.per_day
    assert all(s.limit <= 1000 for s in slices)
    for a, b in itertools.pairwise(slices):
        assert b.start_ms == a.end_ms + 1
    assert slices[0].start_ms == day_start_ms(day)
    assert all(SliceKey.parse(s.key) == s for s in slices)
    assert whole_day(series, day).end_ms == slices[-1].end_ms
