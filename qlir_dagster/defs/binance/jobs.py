"""The klines jobs: the asset job, and the checks-only job that re-validates what is stored."""

import dagster as dg

from qlir_dagster.defs.binance.checks import CHECKS, KLINES

klines_job = dg.define_asset_job("klines_job", selection=dg.AssetSelection.assets("klines"))
# Re-validates what is stored, fetching nothing: `dagster job execute -j klines_checks` in CI.
# The validation checks by name: the freshness checks on klines run in their own job.
klines_checks = dg.define_asset_job(
    "klines_checks",
    selection=dg.AssetSelection.checks(*(dg.AssetCheckKey(KLINES, name) for name in CHECKS)),
)
