"""The candle jobs, per endpoint and series group: the asset job (`klines_job`; a group's
`majors_klines_job`), and the checks-only job that re-validates what is stored (`klines_checks`,
`majors_klines_checks`); `uiklines_job` and `uiklines_checks` alike."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported by dagster
)

from qlir_core.binance import Endpoint
from qlir_dagster.defs.binance.checks import CHECKS
from qlir_dagster.groups import SeriesGroup


def asset_job(endpoint: Endpoint, group: SeriesGroup) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        group.prefixed(f"{endpoint.value}_job"),
        selection=dg.AssetSelection.assets(group.asset_key(endpoint.value)),
    )


def checks_job(endpoint: Endpoint, group: SeriesGroup) -> UnresolvedAssetJobDefinition:
    """Re-validates what is stored, fetching nothing: `dagster job execute -j klines_checks` in
    CI. The validation checks by name: the freshness checks on klines run in their own job."""
    asset = group.asset_key(endpoint.value)
    return dg.define_asset_job(
        group.prefixed(f"{endpoint.value}_checks"),
        selection=dg.AssetSelection.checks(*(dg.AssetCheckKey(asset, name) for name in CHECKS)),
    )
