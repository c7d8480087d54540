"""The candle jobs, per endpoint: the asset job (`klines_job`), and the checks-only job that
re-validates what is stored (`klines_checks`); `uiklines_job` and `uiklines_checks` alike."""

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,  # what define_asset_job returns; not exported by dagster
)

from qlir_core.binance import Endpoint
from qlir_dagster.defs.binance.checks import CHECKS, asset_key


def asset_job(endpoint: Endpoint) -> UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        f"{endpoint.value}_job", selection=dg.AssetSelection.assets(asset_key(endpoint))
    )


def checks_job(endpoint: Endpoint) -> UnresolvedAssetJobDefinition:
    """Re-validates what is stored, fetching nothing: `dagster job execute -j klines_checks` in
    CI. The validation checks by name: the freshness checks on klines run in their own job."""
    asset = asset_key(endpoint)
    return dg.define_asset_job(
        f"{endpoint.value}_checks",
        selection=dg.AssetSelection.checks(*(dg.AssetCheckKey(asset, name) for name in CHECKS)),
    )


klines_job = asset_job(Endpoint.KLINES)
klines_checks = checks_job(Endpoint.KLINES)
