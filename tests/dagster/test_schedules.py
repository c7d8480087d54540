"""The klines schedules: on by default, and what each one asks for when it ticks."""

from datetime import UTC, datetime

import dagster as dg
import pytest

SCHEDULES = ("daily_klines", "current_day_klines")


@pytest.fixture
def defs(make_defs) -> dg.Definitions:
    return make_defs(QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1h", QLIR_START_DATE="2024-01-01")


@pytest.mark.parametrize("name", SCHEDULES)
def test_each_schedule_runs_by_default_when_the_daemon_runs(defs, name):
    schedule = defs.resolve_schedule_def(name)
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "klines_job"
    assert schedule.execution_timezone == "UTC"


def _requests(defs: dg.Definitions, name: str, at: datetime) -> list[tuple[str, str]]:
    schedule = defs.resolve_schedule_def(name)
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    result = schedule.evaluate_tick(context)
    assert result.run_requests is not None
    return [(str(r.run_key), str(r.partition_key)) for r in result.run_requests]


def test_the_daily_schedule_asks_for_yesterday_of_every_series(defs):
    at = datetime(2024, 3, 5, 0, 15, tzinfo=UTC)
    assert _requests(defs, "daily_klines", at) == [
        ("BTCUSDT-1m:2024-03-04", "2024-03-04|BTCUSDT-1m"),
        ("ETHUSDT-1h:2024-03-04", "2024-03-04|ETHUSDT-1h"),
    ]


def test_the_current_day_schedule_asks_for_today_once_per_tick(defs):
    at = datetime(2024, 3, 5, 13, 45, tzinfo=UTC)
    assert _requests(defs, "current_day_klines", at) == [
        ("BTCUSDT-1m:2024-03-05:1345", "2024-03-05|BTCUSDT-1m"),
        ("ETHUSDT-1h:2024-03-05:1345", "2024-03-05|ETHUSDT-1h"),
    ]
