"""The candle assets, one per endpoint (`klines`; `uiklines` for the series configured for
it): one partition per series × day, fetched, validated and stored by the asset itself, so
ranged (single-run) backfills write each partition's own files. Both are this one definition
with the endpoint as its parameter.

Each partition's outcome becomes Dagster events as it happens: a stored (or kept) partition is
materialized at once, with metadata describing what storage holds, and every processed partition
gets its check evaluations. A run killed half-way leaves every partition stored before the kill
materialized; a refused one is recorded on its partition and fails the run at the end. The spec
is skippable and the body yields no MaterializeResult, so Dagster never materializes the whole
range from the step's output.

Run with its checks only (the `klines_checks` job), it fetches nothing and re-validates what is
stored instead.
"""

from collections.abc import Iterator
from contextlib import ExitStack, closing
from datetime import date

import dagster as dg

from qlir_core.binance import Endpoint
from qlir_core.pipeline import KeptPrevious, Outcome, Refused, Stored, ingest_partitions, now_ms
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.validation import PartitionReport, validate_store
from qlir_core.worker_processes import ingest_in_processes, processes_for
from qlir_dagster.defs.binance import checks
from qlir_dagster.defs.binance.partitions import partition_key, split_key
from qlir_dagster.defs.binance.resources import BinanceResource, StorageResource
from qlir_dagster.groups import SeriesGroup

BINANCE_POOL = "binance_api"
# What the body yields. Yielded, not `context.log_event`ed: Dagster writes a yielded event at
# once, while logged ones wait for the next yield (and are lost if the process is killed first).
Event = dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation


DESCRIPTIONS = {
    Endpoint.KLINES: "Binance spot candles (/api/v3/klines), one partition per series × UTC day "
    "(today's is partial until the day closes).",
    Endpoint.UIKLINES: "Binance spot candles for charts (/api/v3/uiKlines, REST only), one "
    "partition per series × UTC day (today's is partial until the day closes).",
}


def build_candles(
    endpoint: Endpoint, group: SeriesGroup, partitions_def: dg.MultiPartitionsDefinition
) -> dg.AssetsDefinition:
    """The asset of `endpoint`'s dataset for `group`'s series over `partitions_def`."""
    asset = group.asset_key(endpoint.value)
    # Checks-only over a named group re-validate its own series; the unnamed one all stored.
    own_series = None if group.name is None else group.series

    @dg.multi_asset(
        name=group.prefixed(endpoint.value),
        specs=[
            dg.AssetSpec(
                asset,
                description=DESCRIPTIONS[endpoint],
                group_name="binance",
                kinds={"parquet"},
                metadata={"dagster/column_schema": checks.column_schema()},
                # Materializations are logged per partition as each is stored (see above).
                skippable=True,
            )
        ],
        check_specs=checks.specs(asset, partitions_def),
        can_subset=True,
        partitions_def=partitions_def,
        # One run per range: `dagster asset materialize --partition-range` accepts no other
        # policy (a multi-run one needs the daemon to split the range).
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=BINANCE_POOL,
        # For unexpected errors (a storage write, a crash in a library). Partitions refused on
        # purpose are not retried by Dagster: their requests were already retried with backoff.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
    )
    def candles(
        context: dg.AssetExecutionContext, binance: BinanceResource, storage: StorageResource
    ) -> Iterator[Event]:
        store = storage.store(endpoint)
        if asset not in context.selected_asset_keys:
            yield from _checks_only(context, asset, store, own_series)
            return
        keys = sorted(context.partition_keys)
        refused: dict[str, str] = {}
        stored = 0
        with ExitStack() as stack:
            parts = [split_key(key) for key in keys]
            processes = processes_for(len(parts), binance.processes)
            if processes:
                outcomes = ingest_in_processes(
                    parts, binance.spec(endpoint), storage.root,
                    processes=processes, workers=binance.workers, log=context.log,
                )  # fmt: skip
            else:
                sources = stack.enter_context(binance.sources(endpoint))
                outcomes = ingest_partitions(
                    parts, sources, store, workers=binance.workers, log=context.log
                )
            # After a ban no partition starts; those already under way are still recorded.
            # Closed on leaving (an error, an interrupt): nothing more starts.
            stack.enter_context(closing(outcomes))
            for outcome in outcomes:
                key = partition_key(outcome.series, outcome.day)
                yield from _events(context, asset, key, outcome)
                if isinstance(outcome, Refused):
                    refused[key] = outcome.reason
                else:
                    stored += 1
        # One line per run, not per partition: every log line is an event-log write (~15 ms).
        context.log.info(f"stored {stored} of {len(keys)} partitions")
        if refused:
            not_run = len(keys) - stored - len(refused)
            listed = "\n".join(f"  {k}: {v}" for k, v in refused.items())
            skipped = f" ({not_run} not attempted after the ban)" if not_run else ""
            raise dg.Failure(
                description=f"{len(refused)} of {len(keys)} partitions were not "
                f"stored{skipped}:\n{listed}",
                allow_retries=False,
            )

    return candles


def _events(
    context: dg.AssetExecutionContext, asset: dg.AssetKey, key: str, outcome: Outcome
) -> Iterator[Event]:
    """The outcome's events: the materialization (or why there is none), then the check
    evaluations of what was validated."""
    if isinstance(outcome, Refused):
        context.log.error(f"{key}: not stored: {outcome.reason}")
        yield dg.AssetObservation(
            asset_key=asset, partition=key, metadata={"not_stored": outcome.reason}
        )
    else:
        yield dg.AssetMaterialization(
            asset_key=asset,
            partition=key,
            description=_describe(outcome),
            metadata=_metadata(outcome),
        )
    if outcome.report is not None:
        yield from _evaluations(context, asset, key, outcome.report)


def _evaluations(
    context: dg.AssetExecutionContext, asset: dg.AssetKey, key: str, report: PartitionReport
) -> Iterator[dg.AssetCheckEvaluation]:
    checks.log_findings(context.log, report)
    target = checks.latest_materialization(context.instance, asset, key)
    yield from checks.evaluations(asset, key, report, target)


def _checks_only(
    context: dg.AssetExecutionContext,
    asset: dg.AssetKey,
    store: Store,
    own_series: tuple[Series, ...] | None,
) -> Iterator[Event]:
    """Re-validate stored partitions (the run's, or every stored one of `own_series`, None:
    of every series); fail on any ERROR."""
    if context.has_partition_key or context.has_partition_key_range:
        by_series: dict[Series, list[date]] = {}
        for key in context.partition_keys:
            series, day = split_key(key)
            by_series.setdefault(series, []).append(day)
        reports = [
            r
            for series, days in by_series.items()
            for r in validate_store(store, now_ms=now_ms(), series=[series], days=days)
        ]
    else:
        reports = validate_store(store, now_ms=now_ms(), series=own_series)
    context.log.info(f"re-validated {len(reports)} stored partitions")
    failed = []
    for report in reports:
        key = partition_key(report.series, report.day)
        yield from _evaluations(context, asset, key, report)
        if not report.passed():
            failed.append(key)
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} of {len(reports)} stored partitions have ERROR "
            "findings: " + ", ".join(failed[:20]),
            allow_retries=False,
        )


def _describe(outcome: Stored | KeptPrevious) -> str:
    s = outcome.report.summary
    if outcome.partial:
        return f"partial day: {s.rows} of {s.expected_rows} candles closed when fetched"
    verb = "stored" if isinstance(outcome, Stored) else "kept the stored day"
    return f"{verb}: {s.rows} candles"


def _metadata(outcome: Stored | KeptPrevious) -> dict[str, dg.MetadataValue]:
    """What storage holds for the partition after this run, and how the run got there."""
    source = outcome.source
    return checks.partition_metadata(outcome.report) | {
        "partial": dg.MetadataValue.bool(outcome.partial),
        "published": dg.MetadataValue.bool(outcome.decision.publish),
        "publish": dg.MetadataValue.text(str(outcome.decision)),
        "source": dg.MetadataValue.text("none" if source is None else source.value),
        "requests": dg.MetadataValue.int(outcome.fetched.requests),
        "seconds": dg.MetadataValue.float(outcome.fetched.seconds),
        "request_ms": dg.MetadataValue.float(outcome.fetched.request_ms),
        "validate_ms": dg.MetadataValue.float(outcome.fetched.validate_ms),
    }
