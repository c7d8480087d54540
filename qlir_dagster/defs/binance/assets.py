"""The `klines` asset: one partition per series × day, fetched, validated and stored by the
asset itself, so ranged (single-run) backfills write each partition's own files.

Run with its checks only (the `klines_checks` job), it fetches nothing and re-validates what is
stored instead.
"""

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import dagster as dg

from qlir_core.errors import IpBanned, QlirError
from qlir_core.ingest import fetch_partition
from qlir_core.manifest import SliceStatus
from qlir_core.publish import decide
from qlir_core.series import Series
from qlir_core.storage import PartitionData, Store
from qlir_core.validation import PartitionReport, validate_partition, validate_store
from qlir_dagster.defs.binance import checks
from qlir_dagster.defs.binance.partitions import partition_key, split_key
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource

BINANCE_POOL = "binance_api"
# What the asset body yields: why a partition was not stored, the run's check results, and the
# materialization itself.
Event = dg.AssetObservation | dg.AssetCheckResult | dg.MaterializeResult[None]


def build_klines(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="klines",
        specs=[
            dg.AssetSpec(
                checks.KLINES,
                description="Binance spot candles, one partition per series × UTC day "
                "(today's is partial until the day closes).",
                group_name="binance",
                kinds={"parquet"},
            )
        ],
        check_specs=checks.specs(),
        can_subset=True,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=BINANCE_POOL,
        # For unexpected errors (a storage write, a crash in a library). Partitions refused on
        # purpose are not retried by Dagster: their requests were already retried with backoff.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
    )
    def klines(
        context: dg.AssetExecutionContext, binance: BinanceResource, storage: StorageResource
    ) -> Iterator[Event]:
        store = storage.store()
        if checks.KLINES not in context.selected_asset_keys:
            yield from _checks_only(context, store)
            return
        reports: list[tuple[str, PartitionReport]] = []
        refused: dict[str, str] = {}
        with binance.sources() as sources:
            for key in sorted(context.partition_keys):
                series, day = split_key(key)
                started = time.perf_counter()
                now_ms = _now_ms()
                try:
                    part = fetch_partition(series, day, sources, now_ms=now_ms, log=context.log)
                except QlirError as e:
                    refused[key] = str(e)
                    yield _not_stored(context, key, refused[key])
                    if isinstance(e, IpBanned):
                        break  # every later request would be refused the same way
                    continue
                report = validate_partition(series, day, part.candles, part.manifest, now_ms=now_ms)
                checks.log_findings(context.log, report)
                reports.append((key, report))
                for evaluation in checks.evaluations(key, report):
                    context.log_event(evaluation)
                if not report.passed():
                    rules = ", ".join(f.rule.value for f in report.errors)
                    refused[key] = f"failed validation ({rules}); what was stored before is kept"
                    yield _not_stored(context, key, refused[key])
                    continue
                decision = decide(part, store.read_candles(series, day))
                if decision.publish:
                    store.publish(part)
                else:
                    context.log.warning(f"{key}: {decision}")
                metadata = _metadata(part, report, time.perf_counter() - started)
                metadata["publish"] = dg.MetadataValue.text(str(decision))
                context.add_asset_metadata(metadata, partition_key=key)
        # One line per run, not per partition: every log line is an event-log write (~15 ms).
        total = len(context.partition_keys)
        context.log.info(f"stored {total - len(refused)} of {total} partitions")
        if refused:
            listed = "\n".join(f"  {k}: {v}" for k, v in refused.items())
            raise dg.Failure(
                description=f"{len(refused)} of {len(context.partition_keys)} partitions "
                f"were not stored:\n{listed}",
                allow_retries=False,
            )
        yield dg.MaterializeResult(asset_key=checks.KLINES, check_results=checks.results(reports))

    return klines


def _checks_only(context: dg.AssetExecutionContext, store: Store) -> Iterator[Event]:
    """Re-validate stored partitions: the run's partitions, or every stored one."""
    if context.has_partition_key or context.has_partition_key_range:
        by_series: dict[Series, list[date]] = {}
        for key in context.partition_keys:
            series, day = split_key(key)
            by_series.setdefault(series, []).append(day)
        reports = [
            r
            for series, days in by_series.items()
            for r in validate_store(store, now_ms=_now_ms(), series=[series], days=days)
        ]
    else:
        reports = validate_store(store, now_ms=_now_ms())
    keyed = [(partition_key(r.series, r.day), r) for r in reports]
    context.log.info(f"re-validated {len(keyed)} stored partitions")
    for key, report in keyed:
        checks.log_findings(context.log, report)
        for evaluation in checks.evaluations(key, report):
            context.log_event(evaluation)
    yield from checks.results(keyed)


def _not_stored(context: dg.AssetExecutionContext, key: str, reason: str) -> dg.AssetObservation:
    """Record on the partition why it was not stored (this also flushes its check results)."""
    context.log.error(f"{key}: not stored: {reason}")
    return dg.AssetObservation(
        asset_key=checks.KLINES, partition=key, metadata={"not_stored": reason}
    )


def _metadata(
    part: PartitionData, report: PartitionReport, seconds: float
) -> dict[str, dg.MetadataValue]:
    partial = any(r.status is SliceStatus.PARTIAL for r in part.manifest)
    return checks.partition_metadata(report) | {
        "requests": dg.MetadataValue.int(len(part.manifest)),
        "source": dg.MetadataValue.text(
            part.manifest[-1].source.value if part.manifest else "none"
        ),
        "partial": dg.MetadataValue.bool(partial),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
    }


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
