"""The IO manager for study outputs: each table and chart of a series-partitioned study goes to
the storage root (local folder or S3) through the one storage layer, in a hive layout:

    <root>/studies/<study>/<table>/symbol=BTCUSDT/interval=1m/data.parquet
    <root>/studies/<study>/charts/symbol=BTCUSDT/interval=1m/<chart>.png
"""

import dagster as dg

from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.studies import StudyResult


class StudyIOManager(dg.ConfigurableIOManager):
    """Stores a StudyResult's tables and charts under the storage root, and loads them back."""

    root: str

    def handle_output(self, context: dg.OutputContext, obj: StudyResult) -> None:
        store, study, series = Store(self.root), context.asset_key.path[-1], _series(context)
        for name, table in obj.tables.items():
            store.write_study_table(study, name, series, table)
        for name, png in obj.charts.items():
            store.write_study_chart(study, name, series, png)
        context.add_output_metadata(
            {"path": dg.MetadataValue.path(str(store.study_dir(study, series)))}
        )

    def load_input(self, context: dg.InputContext) -> StudyResult:
        store = Store(self.root)
        study, series = context.upstream_output.asset_key.path[-1], _series(context)  # type: ignore[union-attr]
        tables = store.read_study_tables(study, series)
        return StudyResult(
            tables=tables, summary=tables.get("summary", next(iter(tables.values())))
        )


def _series(context: dg.OutputContext | dg.InputContext) -> Series:
    return Series.parse(context.asset_partition_key)
