"""The klines jobs: the asset job, and the checks-only job that re-validates what is stored."""

import dagster as dg

klines_job = dg.define_asset_job("klines_job", selection=dg.AssetSelection.assets("klines"))
# Re-validates what is stored, fetching nothing: `dagster job execute -j klines_checks` in CI.
klines_checks = dg.define_asset_job(
    "klines_checks", selection=dg.AssetSelection.checks_for_assets("klines")
)
