from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlir_core import binance
from qlir_core.binance import (
    DAY_MS,
    INTERVAL_MS,
    Interval,
    archive_day_path,
    archive_url,
    day_of_ms,
    day_start_ms,
    klines_url,
    parse_archive_url,
    parse_klines_url,
)
from qlir_core.series import Series
from qlir_core.slices import SliceKey


@dataclass(frozen=True)
class AnySeries:
    """A symbol at any interval, the month included (Series admits day-tiling ones only)."""

    symbol: str
    interval: Interval


@dataclass(frozen=True)
class Window:
    series: AnySeries
    start_ms: int
    end_ms: int
    limit: int


symbols = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=20)
intervals = st.sampled_from(list(Interval))
days = st.dates(min_value=date(2017, 1, 1), max_value=date(2099, 12, 31))
millis = st.integers(min_value=0, max_value=2**53)


def test_klines_url_by_exact_string():
    window = SliceKey(Series.parse("BTCUSDT-1m"), 1674259200000, 1000)
    assert klines_url("https://data-api.binance.vision/", window) == (
        "https://data-api.binance.vision/api/v3/klines?symbol=BTCUSDT&interval=1m"
        "&startTime=1674259200000&endTime=1674319199999&limit=1000"
    )


def test_archive_paths_by_exact_string():
    btc = Series.parse("BTCUSDT-1m")
    assert archive_day_path(btc, date(2023, 1, 21)) == (
        "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip"
    )
    assert archive_url("https://data.binance.vision/", btc, date(2023, 1, 21)) == (
        "https://data.binance.vision/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip"
    )
    month = AnySeries("ETHUSDT", Interval.MO1)
    assert archive_day_path(month, date(2024, 2, 1)) == (
        "data/spot/daily/klines/ETHUSDT/1mo/ETHUSDT-1mo-2024-02-01.zip"
    )


def test_uiklines_url_by_exact_string():
    window = SliceKey(Series.parse("BTCUSDT-1m"), 1674259200000, 1000)
    assert klines_url("https://data-api.binance.vision", window, binance.Endpoint.UIKLINES) == (
        "https://data-api.binance.vision/api/v3/uiKlines?symbol=BTCUSDT&interval=1m"
        "&startTime=1674259200000&endTime=1674319199999&limit=1000"
    )


@given(
    symbols,
    intervals,
    millis,
    millis,
    st.integers(min_value=1, max_value=binance.MAX_LIMIT),
    st.sampled_from(list(binance.Endpoint)),
)
def test_parse_klines_url_inverts_klines_url(symbol, interval, start, end, limit, endpoint):
    window = Window(AnySeries(symbol, interval), start, end, limit)
    url = klines_url("http://127.0.0.1:8080", window, endpoint)
    assert binance.Endpoint.of_path(url.split("?")[0]) is endpoint
    assert parse_klines_url(url, endpoint) == (symbol, interval, start, end, limit)
    other = next(e for e in binance.Endpoint if e is not endpoint)
    with pytest.raises(ValueError, match=f"the path is not {other.path}"):
        parse_klines_url(url, other)


@given(symbols, intervals, days)
def test_parse_archive_url_inverts_archive_url(symbol, interval, day):
    series = AnySeries(symbol, interval)
    assert parse_archive_url(archive_url("s3://bucket/prefix", series, day)) == (
        symbol,
        interval,
        day,
    )
    assert parse_archive_url(archive_day_path(series, day)) == (symbol, interval, day)


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("https://x/api/v3/exchangeInfo?symbol=BTCUSDT", "the path is not /api/v3/klines"),
        ("https://x/api/v3/klines?interval=1m&startTime=0&endTime=1&limit=1", "one 'symbol'"),
        (
            "https://x/api/v3/klines?symbol=A1&symbol=B1&interval=1m&startTime=0&endTime=1&limit=1",
            "found 2",
        ),
        ("https://x/api/v3/klines?symbol=A1&interval=7m&startTime=0&endTime=1&limit=1", "7m"),
        (
            "https://x/api/v3/klines?symbol=A1&interval=1m&startTime=-1&endTime=1&limit=1",
            "startTime",
        ),
        ("https://x/api/v3/klines?symbol=A1&interval=1m&startTime=0&endTime=1&limit=x", "limit"),
        (
            "https://x/api/v3/klines?symbol=A1&interval=1m&startTime=0&endTime=1&limit=1&timeZone=8",
            "unexpected parameters ['timeZone']",
        ),
    ],
)
def test_parse_klines_url_names_the_fault(url, fault):
    with pytest.raises(ValueError, match=fault.replace("[", r"\[").replace("]", r"\]")):
        parse_klines_url(url)


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("https://x/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01.zip", "not a daily"),
        ("data/spot/daily/klines/BTCUSDT/1m/ETHUSDT-1m-2023-01-21.zip", "names ETHUSDT"),
        ("data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1h-2023-01-21.zip", "names interval 1h"),
        ("data/spot/daily/klines/BTCUSDT/1M/BTCUSDT-1M-2023-01-21.zip", "archive interval '1M'"),
        ("data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-02-30.zip", "not a date"),
        ("data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip.CHECKSUM", "not a daily"),
    ],
)
def test_parse_archive_url_names_the_fault(url, fault):
    with pytest.raises(ValueError, match=fault):
        parse_archive_url(url)


def test_interval_lengths_are_a_table_without_the_month():
    assert set(INTERVAL_MS) == set(Interval) - {Interval.MO1}
    assert INTERVAL_MS[Interval.D3] == 3 * DAY_MS
    with pytest.raises(ValueError, match="calendar month"):
        _ = Interval.MO1.ms
    assert [i for i in Interval if i.archive_name != i.value] == [Interval.MO1]
    assert all(Interval.from_archive_name(i.archive_name) is i for i in Interval)


@pytest.mark.parametrize(
    ("day", "ms"),
    [
        (date(1970, 1, 1), 0),
        (date(2023, 1, 21), 1674259200000),
        (date(2024, 2, 29), 1709164800000),
        (date(2025, 1, 1), 1735689600000),
    ],
)
def test_day_math(day, ms):
    assert day_start_ms(day) == ms
    assert day_of_ms(ms) == day
    assert day_of_ms(ms + DAY_MS - 1) == day
    assert day_of_ms(ms + DAY_MS) == day + timedelta(days=1)


def test_microseconds_start_well_before_the_archive_writes_them():
    first_micros = day_start_ms(binance.MICROS_SINCE) * 1000
    assert first_micros >= binance.MICROS_FROM  # every µs time the archive writes is caught
    last_millis = day_start_ms(date(9999, 12, 31))
    assert last_millis < binance.MICROS_FROM  # and no ms time is taken for µs
