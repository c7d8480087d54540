import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from qlir_core import candles
from qlir_core.errors import MalformedData
from qlir_sim.formats import to_csv, to_rest_rows

ROW_MS = "1674259200000,22666.00000000,22692.66000000,22658.71000000,22685.44000000,338.71242000,1674259259999,7680391.66219380,7236,177.18389000,4017824.52651240,0"
ROW_US = "1735689600000000,93576.00000000,93600.00000000,93500.00000000,93550.00000000,10.00000000,1735689659999999,935500.00000000,100,5.00000000,467750.00000000,0"


def test_millisecond_and_microsecond_rows_normalize_to_the_same_representation():
    table = candles.from_csv(f"{ROW_MS}\n{ROW_US}\n".encode())
    assert list(table.columns) == list(candles.COLUMNS)
    assert str(table["open_time"].dtype) == "datetime64[ms, UTC]"
    assert candles.open_ms(table).tolist() == [1674259200000, 1735689600000]
    assert table["close_time"].astype("int64").tolist() == [1674259259999, 1735689659999]
    assert table["trades"].tolist() == [7236, 100]


def test_a_header_line_is_tolerated(real_data):
    futures = (real_data / "futures_um" / "BTCUSDT-1m-2022-09-05.csv").read_bytes()
    assert not futures[:1].isdigit()
    table = candles.from_csv(futures)
    assert len(table) == 1440
    assert candles.open_ms(table)[0] == 1662336000000


def test_real_archive_csv_parses_every_field(mirror):
    path = mirror / "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2023-01-21.zip"
    with zipfile.ZipFile(path) as z:
        data = z.read("BTCUSDT-1m-2023-01-21.csv")
    table = candles.from_csv(data)
    assert len(table) == 1440
    first = data.decode().splitlines()[0].split(",")
    assert table.loc[0, "open"] == float(first[1])
    assert table.loc[0, "quote_volume"] == float(first[7])
    # the table written back as CSV is the original file, byte for byte
    assert to_csv(table) == data


def test_real_rest_body_and_the_forming_candle(real_data):
    body = (real_data / "rest" / "klines_BTCUSDT_1m_from_1634943780000.json").read_bytes()
    table = candles.from_rest_json(body)
    assert len(table) == len(json.loads(body)) == 10
    last_close = int(table["close_time"].astype("int64").iloc[-1])
    # at the moment the last candle was still forming, it is not stored
    assert len(candles.final_only(table, now_ms=last_close)) == 9
    assert len(candles.final_only(table, now_ms=last_close + 1)) == 10


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[[1, "2"', "not JSON"),
        (b'{"code": 0}', "expected a JSON array"),
        (
            b'[[1674259200000, "1", "1", "1", "1", "1", 1674259259999, "1", 1, "1", "1"]]',
            "12 fields",
        ),
        (
            b'[[1674259200000, "x", "1", "1", "1", "1", 1674259259999, "1", 1, "1", "1", "0"]]',
            "non-numeric",
        ),
    ],
)
def test_malformed_rest_bodies(body, message):
    with pytest.raises(MalformedData, match=message):
        candles.from_rest_json(body)


def test_a_csv_cut_short_is_malformed():
    cut = ROW_MS + "\n" + ROW_MS[:40]
    with pytest.raises(MalformedData):
        candles.from_csv(cut.encode())


def test_rest_and_csv_give_identical_tables():
    table = candles.from_csv(f"{ROW_MS}\n".encode())
    again = candles.from_rest_json(json.dumps(to_rest_rows(table)).encode())
    pd.testing.assert_frame_equal(table, again)
    assert np.array_equal(candles.open_ms(table), [1674259200000])
