"""`qlir plot`: a candlestick PNG of stored real candles, with SMAs and bands."""

from __future__ import annotations

import shutil
from datetime import date

import numpy as np
import pytest
from matplotlib import image

from qlir_core.series import Series
from tests.cli.conftest import fill

ETH = Series.parse("ETHUSDT-1m")


@pytest.fixture(scope="module")
def real_store(mirror, tmp_path_factory):
    """ETHUSDT-1m 2022-08-14 and 15 from the real archive files, stored once per module."""
    root = tmp_path_factory.mktemp("plot")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QLIR_BUDGET_DIR", str(root / "budget"))
        days = [date(2022, 8, 14), date(2022, 8, 15)]
        fill(root / "data", ETH, days, archive=str(mirror), rest="http://127.0.0.1:9")
    return root / "data"


@pytest.fixture
def two_real_days(project, real_store):
    shutil.copytree(real_store, project / "data")
    return project


def test_the_chart_is_a_png_of_the_stored_candles(two_real_days, qlir):
    out = two_real_days / "eth.png"
    done = qlir(
        "plot", "ETHUSDT-1m", "--start", "2022-08-14", "--end", "2022-08-15",
        "--sma", "14,50", "--bands", "--out", str(out),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out.strip() == f"wrote {out} (2880 candles)"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(out)
    assert pixels.shape == (700, 1200, 4)  # 12 × 7 inches at 100 dpi
    rgb = pixels[..., :3]
    ink = (rgb < 0.9).any(axis=2)  # anything darker than near-white
    assert 0.03 < ink.mean() < 0.6
    # the candles' two colours (up green, down red) and the lines are all there
    colours = {tuple(c) for c in np.round(rgb[ink] * 8).astype(int).tolist()}
    assert len(colours) > 20
    reddish = (rgb[..., 0] > 0.7) & (rgb[..., 1] < 0.5) & (rgb[..., 2] < 0.5)
    greenish = (rgb[..., 1] > 0.55) & (rgb[..., 0] < 0.4)
    assert reddish.sum() > 500
    assert greenish.sum() > 500


def test_the_default_file_name_and_one_day(two_real_days, qlir):
    done = qlir("plot", "ETHUSDT-1m", "--start", "2022-08-15", "--end", "2022-08-15")
    assert done.code == 0, done.err
    chart = two_real_days / "ETHUSDT-1m_2022-08-15_2022-08-15.png"
    assert done.out.strip() == f"wrote {chart.name} (1440 candles)"
    assert image.imread(chart).shape == (700, 1200, 4)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["ETHUSDT-1m", "--start", "2022-08-32", "--end", "2022-08-15"],
            2,
            "'2022-08-32' is not a date; expected YYYY-MM-DD",
        ),
        (
            ["ETHUSDT-1m", "--start", "2022-08-15", "--end", "2022-08-14"],
            2,
            "2022-08-14 is before --start 2022-08-15",
        ),
        (["ETH", "--start", "2022-08-14", "--end", "2022-08-15"], 2, "malformed series key 'ETH'"),
        (
            ["ETHUSDT-7m", "--start", "2022-08-14", "--end", "2022-08-15"],
            2,
            "unknown interval '7m'",
        ),
        (
            ["ETHUSDT-1m", "--start", "2022-08-14", "--end", "2022-08-15", "--sma", "14,x"],
            2,
            "'x' is not a window",
        ),
        (
            ["DOGEUSDT-1m", "--start", "2022-08-14", "--end", "2022-08-15"],
            1,
            "no stored candles of DOGEUSDT-1m from 2022-08-14 to 2022-08-15",
        ),
        (
            ["ETHUSDT-1m", "--start", "2022-08-16", "--end", "2022-08-20"],
            1,
            "no stored candles of ETHUSDT-1m",
        ),
        (["ETHUSDT-1m", "--end", "2022-08-15"], 2, "Missing option '--start'"),
    ],
    ids=[
        "bad-date",
        "end-first",
        "malformed",
        "bad-interval",
        "bad-sma",
        "unknown-series",
        "no-days",
        "no-start",
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(two_real_days, qlir, args, code, says):
    done = qlir("plot", *args)
    assert done.code == code
    assert says in done.one_error_line()
    assert not list(two_real_days.glob("*.png"))
