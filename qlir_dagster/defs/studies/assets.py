"""One asset per registered study, partitioned by series: it reads the series' whole stored
history as one dataset scan and hands its tables to the study IO manager."""

import time
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from qlir_core.series import Series
from qlir_core.studies import Study, StudyResult
from qlir_core.studies.registry import builtin_studies, load_user_studies
from qlir_dagster.defs.binance.resources import StorageResource
from qlir_dagster.defs.studies.jobs import STUDIES
from qlir_dagster.defs.studies.metadata import study_metadata
from qlir_dagster.defs.studies.params import study_config

STUDY_IO_MANAGER = "study_io_manager"


def build_study_assets(
    series_partitions: dg.StaticPartitionsDefinition,
    klines: dg.AssetsDefinition,
    studies_path: str | None = None,
    key_prefix: Sequence[str] = (),
) -> list[dg.AssetsDefinition]:
    """One asset per built-in study and per study in the user's folder `studies_path` (a
    module there that fails to import fails the load, naming its file), keyed under
    `key_prefix` (a series group's name)."""
    user = [] if studies_path is None else load_user_studies(Path(studies_path))
    studies = {s.name: s for s in [*builtin_studies(), *user]}
    return [
        _study_asset(studies[name], series_partitions, klines, key_prefix)
        for name in sorted(studies)
    ]


def _study_asset(
    study: Study,
    series_partitions: dg.StaticPartitionsDefinition,
    klines: dg.AssetsDefinition,
    key_prefix: Sequence[str],
) -> dg.AssetsDefinition:
    # The study's parameters (e.g. `windows: [14, 50]`); unset ones keep their defaults.
    StudyConfig = study_config(study)

    @dg.asset(
        name=study.name,
        key_prefix=list(key_prefix),
        description=f"{study.description} Parameters: {study.parameters}. "
        "Each partition's charts are the first rows of its materialization.",
        partitions_def=series_partitions,
        # Every day of the series: the study's partitions are the klines' `series` dimension, so
        # Dagster infers MultiToSingleDimensionPartitionMapping (named here, it warns as beta).
        deps=[klines],
        io_manager_key=STUDY_IO_MANAGER,
        group_name=STUDIES,
        kinds={"parquet", "talib"},
        # Re-run a series' study whenever new candles of that series are stored.
        automation_condition=(
            dg.AutomationCondition.any_deps_updated().since_last_handled()
            & ~dg.AutomationCondition.any_deps_in_progress()
        ),
    )
    def run_study(
        context: dg.AssetExecutionContext,
        config: StudyConfig,  # type: ignore[valid-type]
        storage: StorageResource,
    ) -> dg.Output[StudyResult]:
        series = Series.parse(context.partition_key)
        started = time.perf_counter()
        candles = storage.store().scan_candles(series, columns=study.columns)
        read_s = time.perf_counter() - started
        if candles.empty:
            raise dg.Failure(
                f"{study.name}: no stored candles for {series}; materialize klines first"
            )
        try:
            result = study.run(candles, series, config.model_dump())  # type: ignore[attr-defined]
        except ValueError as e:
            raise dg.Failure(f"{study.name} on {series}: {e}", allow_retries=False) from e
        compute_s = time.perf_counter() - started - read_s
        context.log.info(
            f"{study.name} on {series}: {len(candles)} candles read in {read_s:.2f} s, "
            f"studied in {compute_s:.2f} s"
        )
        run = {
            "candles": dg.MetadataValue.int(len(candles)),
            "first_open": dg.MetadataValue.text(str(candles["open_time"].iloc[0])),
            "last_open": dg.MetadataValue.text(str(candles["open_time"].iloc[-1])),
            "read_seconds": dg.MetadataValue.float(round(read_s, 3)),
            "compute_seconds": dg.MetadataValue.float(round(compute_s, 3)),
        }
        metadata = study_metadata(result, run)
        return dg.Output(result, metadata=metadata)

    return run_study
