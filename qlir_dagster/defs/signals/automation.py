"""When `signals` re-runs: after new klines of its series are stored (each current-day refresh),
once nothing it reads is still being written. The studies' tables it reads are not triggers, so a
refresh yields one signal, not one per study."""

import dagster as dg

SIGNALS_GROUP = "signals"


def signals_condition(klines: dg.AssetsDefinition) -> dg.AutomationCondition:  # type: ignore[type-arg]
    return (
        dg.AutomationCondition.any_deps_updated()
        .allow(dg.AssetSelection.assets(klines))
        .since_last_handled()
        & ~dg.AutomationCondition.any_deps_in_progress()
    )


signals_on_new_klines = dg.AutomationConditionSensorDefinition(
    "signals_on_new_klines",
    target=dg.AssetSelection.groups(SIGNALS_GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
