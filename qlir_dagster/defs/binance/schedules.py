"""The klines schedules: the closed day of yesterday for every series, and today's refresh.

Both start RUNNING, so the dataset stays current whenever the daemon runs (`scripts/dev`,
`dagster dev`); stop them in the UI (Automation) or with `dagster schedule stop`."""

from datetime import timedelta

import dagster as dg

from qlir_dagster.config import Settings
from qlir_dagster.defs.binance.jobs import klines_job
from qlir_dagster.defs.binance.partitions import partition_key

RUNNING = dg.DefaultScheduleStatus.RUNNING


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        job=klines_job, cron_schedule="15 0 * * *", execution_timezone="UTC", default_status=RUNNING
    )
    def daily_klines(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        """Yesterday's closed day for every series, 15 minutes after midnight UTC."""
        day = context.scheduled_execution_time.date() - timedelta(days=1)
        return [
            dg.RunRequest(run_key=f"{s.key}:{day}", partition_key=partition_key(s, day))
            for s in settings.series
        ]

    @dg.schedule(
        job=klines_job,
        cron_schedule="*/15 * * * *",
        execution_timezone="UTC",
        default_status=RUNNING,
    )
    def current_day_klines(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        """Today's partial partition for every series, refreshed every 15 minutes."""
        day = context.scheduled_execution_time.date()
        stamp = context.scheduled_execution_time.strftime("%H%M")
        return [
            dg.RunRequest(run_key=f"{s.key}:{day}:{stamp}", partition_key=partition_key(s, day))
            for s in settings.series
        ]

    return [daily_klines, current_day_klines]
