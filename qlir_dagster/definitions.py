"""The qlir code location: the domains under `defs/` assembled as `defs`, for one set of settings.

The settings decide the partitions (which series, from which day), so the definitions are built
from them here, once per code location load, rather than collected from module-level objects.
"""

import dagster as dg

from qlir_core.binance import Endpoint
from qlir_dagster import config, console
from qlir_dagster.config import Settings
from qlir_dagster.defs.binance.assets import build_candles
from qlir_dagster.defs.binance.freshness import build_freshness
from qlir_dagster.defs.binance.jobs import asset_job, checks_job
from qlir_dagster.defs.binance.partitions import day_partitions, series_partitions
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource
from qlir_dagster.defs.binance.schedules import build_schedules
from qlir_dagster.defs.signals.assets import build_signals
from qlir_dagster.defs.signals.automation import signals_on_new_klines
from qlir_dagster.defs.signals.webhook import AlertWebhookResource
from qlir_dagster.defs.studies.assets import STUDY_IO_MANAGER, build_study_assets
from qlir_dagster.defs.studies.io_manager import StudyIOManager
from qlir_dagster.defs.studies.jobs import studies_job, studies_on_new_klines
from qlir_dagster.groups import SeriesGroup


def build_defs(settings: Settings) -> dg.Definitions:
    """The whole code location for one set of settings."""
    parts = [_group_defs(group, settings) for group in settings.series_groups]
    if settings.uiklines_series:  # a dataset of its own, studied by nobody
        ui, group = Endpoint.UIKLINES, SeriesGroup(None, settings.uiklines_series)
        ui_job = asset_job(ui, group)
        days = day_partitions(settings.start_date, series_partitions(group.series))
        parts.append(
            dg.Definitions(
                assets=[build_candles(ui, group, days)],
                jobs=[ui_job, checks_job(ui, group)],
                schedules=build_schedules(ui_job, ui.value, group.series),
            )
        )
    return dg.Definitions.merge(
        *parts,
        dg.Definitions(
            sensors=[studies_on_new_klines, signals_on_new_klines],
            resources=_resources(settings),
            # Steps are I/O bound and few; one process avoids a subprocess start per step.
            executor=dg.in_process_executor,
        ),
    )


def _group_defs(group: SeriesGroup, settings: Settings) -> dg.Definitions:
    """A series group's klines, studies and signals, with their jobs, checks and schedules."""
    series = series_partitions(group.series)
    klines = build_candles(Endpoint.KLINES, group, day_partitions(settings.start_date, series))
    fresh_checks, fresh_job, fresh_schedule = build_freshness(group, settings.start_date)
    klines_job = asset_job(Endpoint.KLINES, group)
    return dg.Definitions(
        assets=[
            klines,
            *build_study_assets(series, klines, settings.studies_path, group.key_prefix),
            build_signals(series, klines, group.key_prefix),
        ],
        asset_checks=[fresh_checks],
        jobs=[klines_job, checks_job(Endpoint.KLINES, group), studies_job(group), fresh_job],
        schedules=[
            *build_schedules(klines_job, group.prefixed("klines"), group.series),
            fresh_schedule,
        ],
    )


def _resources(settings: Settings) -> dict[str, object]:
    return {
        "binance": BinanceResource(
            source=settings.source,
            rest_url=settings.binance_rest_url,
            archive_url=settings.binance_archive_url,
            workers=settings.fetch_workers,
            processes=settings.fetch_processes,
            budget_store=settings.budget_store,
        ),
        "storage": StorageResource(
            root=settings.data_root,
            log_profile=settings.log_profile,
            log_dir=settings.log_dir,
            log_split=settings.log_split,
        ),
        STUDY_IO_MANAGER: StudyIOManager(root=settings.data_root),
        "alert_webhook": AlertWebhookResource(url=settings.alert_webhook),
    }


# Before the settings load: a bad one, or a bad partition key, is then one line in a shell.
console.install()
defs = build_defs(config.load())
