"""The studies job, and the sensor that runs a series' studies when its klines are stored."""

import dagster as dg

STUDIES = "studies"  # the asset group

studies_job = dg.define_asset_job("studies_job", selection=dg.AssetSelection.groups(STUDIES))
studies_on_new_klines = dg.AutomationConditionSensorDefinition(
    "studies_on_new_klines",
    target=dg.AssetSelection.groups(STUDIES),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
