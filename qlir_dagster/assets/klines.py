"""The `klines` asset: one partition per series × day, fetched and stored by the asset itself,
so ranged (single-run) backfills write each partition's own files."""

import time
from datetime import UTC, datetime

import dagster as dg

from qlir_core.errors import QlirError
from qlir_core.ingest import fetch_partition
from qlir_core.manifest import SliceStatus
from qlir_core.storage import PartitionData
from qlir_dagster.partitions import split_key
from qlir_dagster.resources import BinanceResource, StorageResource

BINANCE_POOL = "binance_api"


def build_klines(partitions_def: dg.MultiPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="klines",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=BINANCE_POOL,
        group_name="binance",
        kinds={"parquet"},
    )
    def klines(
        context: dg.AssetExecutionContext, binance: BinanceResource, storage: StorageResource
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        """Binance spot candles, one partition per series × UTC day (today's is partial)."""
        store = storage.store()
        failures: dict[str, str] = {}
        with binance.sources() as sources:
            for key in sorted(context.partition_keys):
                series, day = split_key(key)
                started = time.perf_counter()
                now_ms = int(datetime.now(UTC).timestamp() * 1000)
                try:
                    part = fetch_partition(series, day, sources, now_ms=now_ms, log=context.log)
                except QlirError as e:
                    context.log.error(f"{key}: not stored: {e}")
                    failures[key] = str(e)
                    continue
                store.publish(part)
                context.add_asset_metadata(
                    _metadata(part, time.perf_counter() - started), partition_key=key
                )
                context.log.info(
                    f"{key}: stored {len(part.candles)} candles from {len(part.manifest)} requests"
                )
        if failures:
            listed = "\n".join(f"  {k}: {v}" for k, v in failures.items())
            raise dg.Failure(
                description=f"{len(failures)} of {len(context.partition_keys)} partitions "
                f"were not stored (what was stored before is unchanged):\n{listed}",
                allow_retries=False,
            )
        return dg.MaterializeResult()

    return klines


def _metadata(part: PartitionData, seconds: float) -> dict[str, object]:
    partial = any(r.status is SliceStatus.PARTIAL for r in part.manifest)
    return {
        "dagster/row_count": len(part.candles),
        "requests": len(part.manifest),
        "source": part.manifest[-1].source.value if part.manifest else "none",
        "partial": partial,
        "seconds": round(seconds, 3),
    }
