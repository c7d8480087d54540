"""The `signals` asset, per series: the live SMA legs and the last candle's band label, written
under `studies/signals/…`, shown as a table and one line; new alerts go to the run log, the
`alerts` check (WARN) and the webhook, each once."""

from collections.abc import Sequence

import dagster as dg
import pydantic

from qlir_core.series import Series
from qlir_core.studies import alerts, signals
from qlir_core.studies.sma import DEFAULT_WINDOWS
from qlir_dagster.defs.binance.resources import StorageResource
from qlir_dagster.defs.signals.automation import SIGNALS_GROUP, signals_condition
from qlir_dagster.defs.signals.webhook import AlertWebhookResource

ALERTS_CHECK = "alerts"
READS = (signals.SMA_STUDY, signals.BAND_STUDY)  # their stored tables give the history


class SignalsConfig(dg.Config):
    """The SMA and band parameters of the live signal (as the studies' defaults)."""

    windows: list[int] = pydantic.Field(default_factory=lambda: list(DEFAULT_WINDOWS))
    price: str = "open"
    flat_tol: float = 1e-9
    band_period: int = signals.BAND_PERIOD


def build_signals(
    series_partitions: dg.StaticPartitionsDefinition,
    klines: dg.AssetsDefinition,
    key_prefix: Sequence[str] = (),
) -> dg.AssetsDefinition:
    """The signals of the series in `series_partitions`, keyed under `key_prefix` (a series
    group's name), beside that group's klines and studies."""
    prefix = list(key_prefix)

    @dg.asset(
        name=alerts.SIGNALS,
        key_prefix=prefix,
        description="Where each series is now: its open SMA legs against their history, the "
        "last closed candle's band label, and alerts when a leg reaches a tail level.",
        partitions_def=series_partitions,
        deps=[klines, *(dg.AssetKey([*prefix, name]) for name in READS)],
        group_name=SIGNALS_GROUP,
        kinds={"parquet"},
        check_specs=[
            dg.AssetCheckSpec(
                ALERTS_CHECK,
                asset=dg.AssetKey([*prefix, alerts.SIGNALS]),
                description="WARN when this refresh raised alerts (each is raised once).",
            )
        ],
        automation_condition=signals_condition(klines),
    )
    def signals_asset(
        context: dg.AssetExecutionContext,
        config: SignalsConfig,
        storage: StorageResource,
        alert_webhook: AlertWebhookResource,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        series = Series.parse(context.partition_key)
        store = storage.store()
        try:
            now = signals.live_signals(
                store,
                series,
                windows=config.windows,
                price=config.price,
                flat_tol=config.flat_tol,
                band_period=config.band_period,
            )
        except (KeyError, ValueError) as e:
            raise dg.Failure(f"signals on {series}: {e}", allow_retries=False) from e
        if now is None:
            raise dg.Failure(f"signals: no stored candles for {series}; materialize klines first")
        legs, candle = now.legs_table(), now.candle_table()
        store.write_study_table(alerts.SIGNALS, "live_legs", series, legs)
        store.write_study_table(alerts.SIGNALS, "last_candle", series, candle)
        fresh = alerts.new_alerts(alerts.candidate_alerts(now), alerts.alerted_keys(store, series))
        alerts.record(store, series, fresh)  # before sending: a slow receiver never repeats one
        for alert in fresh:
            context.log.warning(f"alert: {alert.text}")
        delivered = alert_webhook.send(fresh, context.log)
        context.log.info(now.line())
        check = dg.AssetCheckResult(
            check_name=ALERTS_CHECK,
            passed=not fresh,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "alerts": dg.MetadataValue.int(len(fresh)),
                "text": dg.MetadataValue.md("\n".join(f"- {a.text}" for a in fresh) or "none"),
            },
        )
        return dg.MaterializeResult(
            metadata={
                "signal": dg.MetadataValue.text(now.line()),
                "live_legs": dg.MetadataValue.md(legs.to_markdown(index=False)),
                "last_candle": dg.MetadataValue.md(candle.to_markdown(index=False)),
                "as_of": dg.MetadataValue.text(str(now.as_of)),
                "alerts": dg.MetadataValue.int(len(fresh)),
                "alerts_delivered": dg.MetadataValue.int(delivered),
            },
            check_results=[check],
        )

    return signals_asset
