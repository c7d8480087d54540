"""The qlir code location: everything assembled as `defs`."""

import dagster as dg

from qlir_dagster import config
from qlir_dagster.assets.klines import build_klines
from qlir_dagster.config import Settings
from qlir_dagster.jobs import build_schedules, klines_job
from qlir_dagster.partitions import klines_partitions
from qlir_dagster.resources import BinanceResource, StorageResource


def build_defs(settings: Settings) -> dg.Definitions:
    """The whole code location for one set of settings."""
    return dg.Definitions(
        assets=[build_klines(klines_partitions(settings))],
        jobs=[klines_job],
        schedules=build_schedules(settings),
        resources={
            "binance": BinanceResource(
                source=settings.source.value,
                rest_url=settings.rest_url,
                archive_url=settings.archive_url,
            ),
            "storage": StorageResource(root=settings.data_root),
        },
        # Steps are I/O bound and few; one process avoids a subprocess start per step.
        executor=dg.in_process_executor,
    )


defs = build_defs(config.load())
