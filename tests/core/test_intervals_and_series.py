import pytest

from qlir_core.errors import InvalidSeries
from qlir_core.intervals import DAY_MS, Interval
from qlir_core.series import Series, parse_series_list


def test_all_sixteen_intervals_with_their_lengths():
    assert [i.value for i in Interval] == (
        [
            "1s",
            "1m",
            "3m",
            "5m",
            "15m",
            "30m",
            "1h",
            "2h",
            "4h",
            "6h",
            "8h",
            "12h",
            "1d",
            "3d",
            "1w",
            "1M",
        ]
    )
    assert Interval.S1.ms == 1000
    assert Interval.M15.ms == 900_000
    assert Interval.H12.ms == 43_200_000
    assert Interval.W1.ms == 7 * DAY_MS


@pytest.mark.parametrize(
    ("interval", "tiles", "per_day"),
    [
        ("1s", True, 86400),
        ("1m", True, 1440),
        ("8h", True, 3),
        ("1d", True, 1),
        ("3d", False, None),
    ],
)
def test_intervals_that_tile_a_day(interval, tiles, per_day):
    i = Interval.parse(interval)
    assert i.tiles_day is tiles
    if tiles:
        assert i.per_day == per_day


def test_month_is_case_sensitive_and_spelled_1mo_in_the_archive():
    assert Interval.parse("1M") is Interval.MO1
    assert Interval.parse("1m") is Interval.M1
    assert Interval.MO1.archive_name == "1mo"
    assert Interval.M1.archive_name == "1m"
    assert not Interval.MO1.tiles_day
    # Messages name an interval; the label spells it as Binance does.
    assert (str(Interval.MO1), Interval.MO1.label) == ("MO1", "1M")


def test_unknown_interval_names_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown interval '7m'.*1s 1m 3m"):
        Interval.parse("7m")


def test_series_key_round_trip():
    s = Series.parse("BTCUSDT-1m")
    assert (s.symbol, s.interval, s.key) == ("BTCUSDT", Interval.M1, "BTCUSDT-1m")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("BTCUSDT", "malformed series key"),
        ("BTCUSDT-", "malformed series key"),
        ("btcusdt-1m", "malformed symbol 'btcusdt'"),
        ("BTC/USDT-1m", "malformed symbol"),
        ("BTCUSDT-7m", "unknown interval '7m'"),
        ("BTCUSDT-1w", "interval 1w is not supported for day partitions"),
        ("BTCUSDT-1M", "interval 1M is not supported"),
    ],
)
def test_bad_series_keys_say_what_is_wrong(key, message):
    with pytest.raises(InvalidSeries, match=message):
        Series.parse(key)


def test_series_list_keeps_order_and_drops_duplicates():
    keys = [s.key for s in parse_series_list("ETHUSDT-1h, BTCUSDT-1m,ETHUSDT-1h")]
    assert keys == ["ETHUSDT-1h", "BTCUSDT-1m"]
    with pytest.raises(InvalidSeries, match="empty"):
        parse_series_list(" , ")
