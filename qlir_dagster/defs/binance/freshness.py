"""Freshness checks on klines (each series group's), one per series: red when the current day
has not been refreshed within its cadence, or the closed day is not stored (whole) by 01:00 UTC
(qlir_core.freshness).

They read the store, not the event log, so they judge what is really stored. Their own job runs
them on a schedule between the current-day refreshes; the UI shows each series' check on klines.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported by dagster
)

from qlir_core import freshness
from qlir_core.series import Series
from qlir_dagster.defs.binance.resources import StorageResource
from qlir_dagster.groups import SeriesGroup

JOB = "klines_freshness"


def check_name(series: Series) -> str:
    """`fresh_BTCUSDT_1m`: check names allow letters, digits and underscores only."""
    return f"fresh_{series.symbol}_{series.interval.value}"


def build_freshness(
    group: SeriesGroup, start_date: date
) -> tuple[dg.AssetChecksDefinition, UnresolvedAssetJobDefinition, dg.ScheduleDefinition]:
    """The checks on `group`'s klines, the job that runs them, and its schedule."""
    klines = group.asset_key("klines")
    by_name = {check_name(s): s for s in group.series}
    specs = [
        dg.AssetCheckSpec(
            name,
            asset=klines,
            description=f"{s}: the current day refreshed within "
            f"{freshness.allowed_lag_ms(s) // 60_000} min, the closed day stored by 01:00 UTC",
        )
        for name, s in by_name.items()
    ]

    @dg.multi_asset_check(
        specs=specs, name=group.prefixed("klines_freshness_checks"), can_subset=True
    )
    def klines_freshness(
        context: dg.AssetCheckExecutionContext, storage: StorageResource
    ) -> Iterator[dg.AssetCheckResult]:
        store = storage.store()
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
            series = by_name[key.name]
            state = freshness.survey(store, series)
            problems = freshness.problems(state, now_ms, start_date)
            lag = freshness.lag_ms(state, now_ms)
            yield dg.AssetCheckResult(
                check_name=key.name,
                asset_key=klines,
                passed=not problems,
                severity=dg.AssetCheckSeverity.ERROR,
                description="; ".join(problems) or f"{series}: fresh",
                metadata={
                    "lag_seconds": dg.MetadataValue.float(-1.0 if lag is None else lag / 1000),
                    "last_day": dg.MetadataValue.text(str(state.days[-1] if state.days else "")),
                    "stored_days": dg.MetadataValue.int(len(state.days)),
                },
            )

    job = dg.define_asset_job(
        group.prefixed(JOB), selection=dg.AssetSelection.checks(*(s.key for s in specs))
    )
    # Between the current-day refreshes (every 15 minutes from :00): each sees the latest one.
    schedule = dg.ScheduleDefinition(
        name=group.prefixed(f"{JOB}_schedule"),
        job=job,
        cron_schedule="10,25,40,55 * * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return klines_freshness, job, schedule
