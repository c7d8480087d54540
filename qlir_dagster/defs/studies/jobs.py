"""The studies job, and the sensor that runs a series' studies when its klines are stored."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported by dagster
)

from qlir_dagster.groups import SeriesGroup

STUDIES = "studies"  # the asset group


def studies_job(group: SeriesGroup) -> UnresolvedAssetJobDefinition:
    """Every study of `group`'s series (`studies_job`; a group's `majors_studies_job`): one job
    per group, as a job's assets share one partitions definition."""
    selection: dg.AssetSelection = dg.AssetSelection.groups(STUDIES)
    if group.name is not None:
        selection &= dg.AssetSelection.key_prefixes(group.key_prefix)
    return dg.define_asset_job(group.prefixed("studies_job"), selection=selection)


studies_on_new_klines = dg.AutomationConditionSensorDefinition(
    "studies_on_new_klines",
    target=dg.AssetSelection.groups(STUDIES),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
