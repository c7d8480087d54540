"""The qlir code location: everything assembled as `defs`."""

import dagster as dg

from qlir_dagster import config
from qlir_dagster.assets.klines import build_klines
from qlir_dagster.assets.studies import STUDY_IO_MANAGER, build_study_assets
from qlir_dagster.config import Settings
from qlir_dagster.io_managers import StudyIOManager
from qlir_dagster.jobs import build_schedules, klines_checks, klines_job, studies_job
from qlir_dagster.partitions import klines_partitions, series_partitions
from qlir_dagster.resources import BinanceResource, StorageResource


def build_defs(settings: Settings) -> dg.Definitions:
    """The whole code location for one set of settings."""
    series = series_partitions(settings)
    klines = build_klines(klines_partitions(settings, series))
    studies = build_study_assets(series, klines)
    return dg.Definitions(
        assets=[klines, *studies],
        jobs=[klines_job, studies_job, klines_checks],
        schedules=build_schedules(settings),
        sensors=[
            dg.AutomationConditionSensorDefinition(
                "studies_on_new_klines",
                target=dg.AssetSelection.assets(*studies),
                default_status=dg.DefaultSensorStatus.RUNNING,
            )
        ],
        resources={
            "binance": BinanceResource(
                source=settings.source.value,
                rest_url=settings.rest_url,
                archive_url=settings.archive_url,
            ),
            "storage": StorageResource(root=settings.data_root),
            STUDY_IO_MANAGER: StudyIOManager(root=settings.data_root),
        },
        # Steps are I/O bound and few; one process avoids a subprocess start per step.
        executor=dg.in_process_executor,
    )


defs = build_defs(config.load())
