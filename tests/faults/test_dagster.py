"""Each fault class end to end through Dagster (`klines_job` in process) against qlir-sim: the
run stores the exact day when the fault comes now and then, and fails with the reason, storing
nothing, when it comes every time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from qlir_core.manifest import SliceStatus, Source, StatusReason
from qlir_core.series import Series
from qlir_core.storage import Store
from tests.dagster.conftest import run_one, run_range
from tests.faults.conftest import BTC_1M, DAY, Sim

KEY = f"{DAY.isoformat()}|BTCUSDT-1m"

NOW_AND_THEN: dict[str, dict[str, Any]] = {
    "5xx": {"error_rate": 0.5, "seed": 2},
    "timeout": {"timeout_rate": 0.5, "hang_seconds": 2.0, "seed": 3},
    "truncated": {"truncate_rate": 0.5, "seed": 13},
    "field-count-or-non-numeric": {"malformed_rate": 0.5, "seed": 13},
    "duplicate": {"duplicate_rate": 0.5, "seed": 13},
    "out-of-order": {"out_of_order_rate": 0.5, "seed": 13},
    "outside-window": {"outside_window_rate": 0.5, "seed": 13},
    "dropped": {"drop_rate": 0.5, "seed": 7},
    "429": {"burst_429": 2},
}


@pytest.mark.parametrize("faults", NOW_AND_THEN.values(), ids=NOW_AND_THEN.keys())
def test_a_fault_now_and_then_still_stores_the_exact_day(
    sim: Sim,
    make_defs: Callable[..., dg.Definitions],
    tmp_path: Path,
    served: Callable[..., pd.DataFrame],
    faults: dict[str, Any],
) -> None:
    sim.faults(**faults)
    result = run_one(make_defs(sim.url), KEY)
    assert result.success
    store = Store(str(tmp_path / "data"))
    pd.testing.assert_frame_equal(store.read_candles(BTC_1M, DAY), served(BTC_1M, DAY))
    rows = store.read_manifest(BTC_1M, DAY)
    assert rows is not None
    retried = [r for r in rows if r.attempt > 1]
    assert retried, "the fault was meant to cost at least one attempt"
    assert sim.stats()["faults_injected"] > 0


EVERY_TIME: dict[str, tuple[dict[str, Any], str]] = {
    "5xx": ({"error_rate": 1.0}, "HTTP 50"),
    "truncated": ({"truncate_rate": 1.0}, "cut short"),
    "field-count": ({"malformed_rate": 1.0, "seed": 1}, "does not have 12 fields"),
    "duplicate": ({"duplicate_rate": 1.0}, "sent twice"),
    "out-of-order": ({"out_of_order_rate": 1.0}, "opens before the one before it"),
    "outside-window": ({"outside_window_rate": 1.0}, "outside the window asked for"),
}


@pytest.mark.parametrize(("faults", "says"), EVERY_TIME.values(), ids=EVERY_TIME.keys())
def test_a_fault_every_time_fails_the_run_with_its_reason_and_stores_nothing(
    sim: Sim,
    make_defs: Callable[..., dg.Definitions],
    tmp_path: Path,
    faults: dict[str, Any],
    says: str,
) -> None:
    sim.faults(**faults)
    result = run_one(make_defs(sim.url), KEY)
    assert not result.success
    failure = result.failure_data_for_node("klines")
    assert failure is not None
    assert KEY in failure.error.message
    assert says in failure.error.message
    assert sim.stats()["rest_requests"] == 5  # five attempts at the first slice, then stop
    assert not (tmp_path / "data" / "klines").exists()


def test_a_ban_fails_the_run_and_the_next_one_sends_nothing_until_it_ends(
    sim: Sim, make_defs: Callable[..., dg.Definitions], tmp_path: Path
) -> None:
    defs = make_defs(sim.url)
    sim.faults(force_418=True)  # Retry-After: 3 s, the exchange's ban length
    banned = run_one(defs, KEY)
    assert not banned.success
    failure = banned.failure_data_for_node("klines")
    assert failure is not None
    assert "banned" in failure.error.message
    sim.faults()
    requests = sim.stats()["rest_requests"]
    assert requests == 1
    again = run_one(defs, KEY)  # within the ban: refused before any request
    assert not again.success
    assert sim.stats()["rest_requests"] == requests
    assert not (tmp_path / "data" / "klines").exists()
    time.sleep(3)
    assert run_one(defs, KEY).success
    assert Store(str(tmp_path / "data")).stored_days(BTC_1M) == [DAY]


def test_an_unlisted_symbol_fails_at_once(
    sim: Sim, make_defs: Callable[..., dg.Definitions]
) -> None:
    result = run_one(make_defs(sim.url, QLIR_SERIES="XRPUSDT-1m"), f"{DAY}|XRPUSDT-1m")
    assert not result.success
    failure = result.failure_data_for_node("klines")
    assert failure is not None
    assert "-1121" in failure.error.message
    assert sim.stats()["rest_requests"] == 1


def test_in_auto_mode_a_cut_archive_day_comes_from_rest(
    sim: Sim,
    make_defs: Callable[..., dg.Definitions],
    tmp_path: Path,
    served: Callable[..., pd.DataFrame],
) -> None:
    sim.faults(truncate_csv=["all"])
    result = run_one(make_defs(sim.url, QLIR_SOURCE="auto"), KEY)
    assert result.success
    store = Store(str(tmp_path / "data"))
    pd.testing.assert_frame_equal(store.read_candles(BTC_1M, DAY), served(BTC_1M, DAY))
    rows = store.read_manifest(BTC_1M, DAY)
    assert rows is not None
    assert [(r.source, r.status, r.reason) for r in rows] == [
        (Source.ARCHIVE, SliceStatus.FAILED, StatusReason.TRUNCATED_CSV),
        (Source.REST, SliceStatus.COMPLETE, StatusReason.NONE),
        (Source.REST, SliceStatus.COMPLETE, StatusReason.NONE),
    ]


def test_a_ranged_run_through_mixed_faults_stores_every_day_exactly(
    sim: Sim,
    make_defs: Callable[..., dg.Definitions],
    tmp_path: Path,
    served: Callable[..., pd.DataFrame],
) -> None:
    sim.faults(
        error_rate=0.05,
        truncate_rate=0.05,
        malformed_rate=0.05,
        duplicate_rate=0.05,
        out_of_order_rate=0.05,
        outside_window_rate=0.05,
        drop_rate=0.05,
        seed=21,
    )
    defs = make_defs(sim.url, QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1m")
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(5)]
    result = run_range(defs, f"{days[0]}|BTCUSDT-1m", f"{days[-1]}|BTCUSDT-1m")
    assert result.success
    store = Store(str(tmp_path / "data"))
    for day in days:
        pd.testing.assert_frame_equal(store.read_candles(BTC_1M, day), served(BTC_1M, day))
    assert store.stored_days(Series.parse("ETHUSDT-1m")) == []
    assert sim.stats()["faults_injected"] > 0
