"""`qlir series list`: per configured series what the store holds, from one scan of it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from qlir_core.ingest import SourceMode
from qlir_core.series import Series
from qlir_sim import Synthetic, serve
from tests.cli.conftest import fill
from tests.conftest import away_from_midnight

BTC, ETH, SOL = (Series.parse(k) for k in ("BTCUSDT-1m", "ETHUSDT-1m", "SOLUSDT-1m"))
HALT = "2024-01-01T12:40/2024-01-01T14:00"  # like the real all-symbol halt of 2023-03-24


@pytest.fixture
def store_with_a_halt_and_a_missing_day(project):
    """BTCUSDT-1m: 2024-01-01 (halted 12:40-14:00) and 2024-01-03 stored, 2024-01-02 not;
    ETHUSDT-1m: nothing; SOLUSDT-1m: today, stored while it is still forming."""
    settings = project / "qlir.toml"
    settings.write_text(
        settings.read_text()
        .replace('"2023-01-01"', '"2024-01-01"')
        .replace('"ETHUSDT-1m"]', '"ETHUSDT-1m", "SOLUSDT-1m"]')
    )
    # SOLUSDT's day is still forming when `qlir series list` reads it.
    started = away_from_midnight(after=timedelta(minutes=3), before=timedelta(minutes=10))
    today = started.date()
    halted = Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=3, seed=5, halts=[HALT])
    with serve(halted) as url:
        fill(project / "data", BTC, [date(2024, 1, 1), date(2024, 1, 3)], archive=url, rest=url)
    forming = Synthetic(["SOLUSDT"], ["1m"], today - timedelta(days=1), days=None, seed=5)
    with serve(forming) as url:
        fill(project / "data", SOL, [today], archive=url, rest=url, mode=SourceMode.REST)
    return today, started


def test_json_reports_the_halt_the_missing_day_and_the_partial_day(
    store_with_a_halt_and_a_missing_day, qlir
):
    today, filled_from = store_with_a_halt_and_a_missing_day
    done = qlir("series", "list", "--json")
    assert done.code == 0, done.err
    btc, eth, sol = json.loads(done.out)

    assert btc["series"] == "BTCUSDT-1m"
    assert (btc["first_day"], btc["last_day"], btc["days_stored"]) == (
        "2024-01-01",
        "2024-01-03",
        2,
    )
    assert btc["missing_runs"][0] == {"first": "2024-01-02", "last": "2024-01-02", "days": 1}
    assert btc["missing_runs"][1] == {
        "first": "2024-01-04",
        "last": today.isoformat(),
        "days": (today - date(2024, 1, 4)).days + 1,
    }
    assert btc["days_missing"] == (today - date(2024, 1, 1)).days + 1 - 2
    assert btc["gap_days"] == ["2024-01-01"]
    assert btc["gap_runs"] == [
        {
            "day": "2024-01-01",
            "first_missing": "2024-01-01T12:40:00Z",
            "last_missing": "2024-01-01T13:59:00Z",
            "candles": 80,
        }
    ]
    assert btc["partial_days"] == []
    # written by the fixture: after it began (the file clock may lag by a tick), before now
    updated = datetime.fromisoformat(btc["last_update"])
    assert filled_from - timedelta(seconds=1) <= updated <= datetime.now(UTC)

    assert (eth["days_stored"], eth["first_day"], eth["last_update"]) == (0, None, None)
    assert eth["missing_runs"] == [
        {
            "first": "2024-01-01",
            "last": today.isoformat(),
            "days": (today - date(2024, 1, 1)).days + 1,
        }
    ]

    # today is stored as it stands: partial, and its not-yet-fetched rest is no gap
    assert sol["partial_days"] == [today.isoformat()]
    assert sol["gap_runs"] == []
    assert sol["days_stored"] == 1


def test_the_text_form_and_a_chosen_series(store_with_a_halt_and_a_missing_day, qlir):
    done = qlir("series", "list", "BTCUSDT-1m")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0] == "BTCUSDT-1m: 2 day(s) stored, 2024-01-01 … 2024-01-03"
    assert "; 2024-01-02…2024-01-02 (1);" in lines[1]
    assert lines[3] == "  exchange gaps: 1 run(s) on 1 day(s)"
    assert lines[4] == "    2024-01-01T12:40:00Z … 2024-01-01T13:59:00Z (80 candles)"
    assert not any(line.startswith("ETHUSDT") for line in lines)


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (
            ["DOGEUSDT-1m"],
            {},
            2,
            "'DOGEUSDT-1m' is not a configured series; expected one of BTCUSDT-1m, ETHUSDT-1m",
        ),
        (["BTC"], {}, 2, "malformed series key 'BTC'"),
        ([], {"QLIR_START_DATE": "2024-13-01"}, 1, "QLIR_START_DATE='2024-13-01' is invalid"),
        ([], {"QLIR_SERIES": "BTCUSDT-7m"}, 1, "unknown interval '7m'"),
    ],
    ids=["unknown-series", "malformed-series", "bad-date", "bad-interval"],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    project, qlir, monkeypatch, args, env, code, says
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = qlir("series", "list", *args)
    assert done.code == code
    assert says in done.one_error_line()


def test_a_store_on_s3_is_read_the_same_way(project, qlir, mirror, bucket, monkeypatch):
    root = f"s3://{bucket}/qlir"
    days = [date(2022, 8, 14), date(2022, 8, 15)]
    fill(root, ETH, days, archive=str(mirror), rest="http://127.0.0.1:9")
    monkeypatch.setenv("QLIR_DATA_ROOT", root)
    monkeypatch.setenv("QLIR_START_DATE", "2022-08-13")
    done = qlir("series", "list", "--json", "ETHUSDT-1m")
    assert done.code == 0, done.err
    (eth,) = json.loads(done.out)
    assert (eth["first_day"], eth["last_day"], eth["days_stored"]) == (
        "2022-08-14",
        "2022-08-15",
        2,
    )
    assert eth["missing_runs"][0] == {"first": "2022-08-13", "last": "2022-08-13", "days": 1}
    assert eth["gap_runs"] == []
    assert eth["partial_days"] == []
    assert datetime.fromisoformat(eth["last_update"]) <= datetime.now(UTC)
