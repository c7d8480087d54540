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
from qlir_dagster.defs.binance.jobs import asset_job, checks_job, klines_checks, klines_job
from qlir_dagster.defs.binance.partitions import day_partitions, series_partitions
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource
from qlir_dagster.defs.binance.schedules import build_schedules
from qlir_dagster.defs.signals.assets import build_signals
from qlir_dagster.defs.signals.automation import signals_on_new_klines
from qlir_dagster.defs.signals.webhook import AlertWebhookResource
from qlir_dagster.defs.studies.assets import STUDY_IO_MANAGER, build_study_assets
from qlir_dagster.defs.studies.io_manager import StudyIOManager
from qlir_dagster.defs.studies.jobs import studies_job, studies_on_new_klines


def build_defs(settings: Settings) -> dg.Definitions:
    """The whole code location for one set of settings."""
    series = series_partitions(settings)
    klines = build_candles(Endpoint.KLINES, day_partitions(settings, series))
    fresh_checks, fresh_job, fresh_schedule = build_freshness(settings)
    assets = [
        klines,
        *build_study_assets(series, klines, settings.studies_path),
        build_signals(series, klines),
    ]
    jobs = [klines_job, klines_checks, studies_job, fresh_job]
    schedules = [*build_schedules(klines_job, "klines", settings.series), fresh_schedule]
    if settings.uiklines_series:  # a dataset of its own, studied by nobody
        ui = Endpoint.UIKLINES
        ui_job = asset_job(ui)
        assets.append(build_candles(ui, day_partitions(settings, series_partitions(settings, ui))))
        jobs += [ui_job, checks_job(ui)]
        schedules += build_schedules(ui_job, ui.value, settings.uiklines_series)
    return dg.Definitions(
        assets=assets,
        asset_checks=[fresh_checks],
        jobs=jobs,
        schedules=schedules,
        sensors=[studies_on_new_klines, signals_on_new_klines],
        resources={
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
        },
        # Steps are I/O bound and few; one process avoids a subprocess start per step.
        executor=dg.in_process_executor,
    )


# Before the settings load: a bad one, or a bad partition key, is then one line in a shell.
console.install()
defs = build_defs(config.load())
