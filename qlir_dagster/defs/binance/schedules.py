"""The candle schedules, per endpoint: the closed day of yesterday for every series, and today's
refresh (`daily_klines`, `current_day_klines`; `daily_uiklines`, `current_day_uiklines`).

They start RUNNING, so the datasets stay current whenever the daemon runs (`scripts/dev`,
`dagster dev`); stop them in the UI (Automation) or with `dagster schedule stop`."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported by dagster
)

from qlir_core.series import Series
from qlir_dagster.defs.binance.partitions import partition_key

RUNNING = dg.DefaultScheduleStatus.RUNNING


def build_schedules(
    job: UnresolvedAssetJobDefinition, name: str, series: tuple[Series, ...]
) -> list[dg.ScheduleDefinition]:
    """The two schedules of one candle asset's `job` over its `series`; `name`: `klines`…"""

    def schedule(prefix: str, cron: str) -> Callable[[Callable[..., Any]], dg.ScheduleDefinition]:
        return dg.schedule(
            name=f"{prefix}_{name}",
            job=job,
            cron_schedule=cron,
            execution_timezone="UTC",
            default_status=RUNNING,
        )

    @schedule("daily", "15 0 * * *")
    def daily(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        """Yesterday's closed day for every series, 15 minutes after midnight UTC."""
        day = context.scheduled_execution_time.date() - timedelta(days=1)
        return [
            dg.RunRequest(run_key=f"{s.key}:{day}", partition_key=partition_key(s, day))
            for s in series
        ]

    @schedule("current_day", "*/15 * * * *")
    def current_day(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        """Today's partial partition for every series, refreshed every 15 minutes."""
        day = context.scheduled_execution_time.date()
        stamp = context.scheduled_execution_time.strftime("%H%M")
        return [
            dg.RunRequest(run_key=f"{s.key}:{day}:{stamp}", partition_key=partition_key(s, day))
            for s in series
        ]

    return [daily, current_day]
