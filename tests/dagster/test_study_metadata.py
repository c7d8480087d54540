"""A study's materialization: charts first, a column schema per table, and its dependency on
every stored day of its series."""

import dagster as dg
import pandas as pd

from qlir_core.studies import StudyResult
from qlir_dagster.defs.studies.metadata import COLUMN_SCHEMA, study_metadata

PNG = b"\x89PNG\r\n\x1a\n"


def test_charts_come_first_and_every_table_has_its_schema():
    legs = pd.DataFrame(
        {
            "window": pd.Series([14], dtype="int64"),
            "side": pd.Categorical(["up"], categories=["down", "up"], ordered=True),
            "start_time": pd.to_datetime(["2024-01-01"], utc=True),
        }
    )
    summary = pd.DataFrame({"window": [14], "legs": [1.0]})
    result = StudyResult(
        tables={"legs": legs, "summary": summary},
        summary=summary,
        headline={"legs": 1.0},
        charts={"survival": PNG, "per_day": PNG},
    )
    metadata = study_metadata(result, {"candles": dg.MetadataValue.int(3)})
    assert list(metadata)[:3] == ["chart_survival", "chart_per_day", "candles"]
    assert metadata["chart_survival"].value.startswith("![survival](data:image/png;base64,iVBOR")
    main = metadata[COLUMN_SCHEMA].value
    assert [(c.name, c.type) for c in main.columns] == [
        ("window", "int64"),
        ("side", "category"),
        ("start_time", "datetime64[ns, UTC]"),
    ]
    assert main.columns[1].description == "ordered category: down, up"
    assert metadata["columns_legs"].value == main
    assert [c.name for c in metadata["columns_summary"].value.columns] == ["window", "legs"]


def test_a_study_depends_on_every_day_of_its_series(make_defs):
    defs = make_defs(QLIR_SERIES="BTCUSDT-1m,ETHUSDT-1m", QLIR_START_DATE="2024-01-01")
    graph = defs.resolve_asset_graph()
    klines, study = dg.AssetKey("klines"), dg.AssetKey("sma_study")
    mapping = graph.get_partition_mapping(study, klines)
    assert isinstance(mapping, dg.MultiToSingleDimensionPartitionMapping)
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        graph.get(study).partitions_def.subset_with_partition_keys(["ETHUSDT-1m"]),
        graph.get(study).partitions_def,
        graph.get(klines).partitions_def,
    ).partitions_subset.get_partition_keys()
    assert upstream
    assert {k.split("|")[1] for k in upstream} == {"ETHUSDT-1m"}
    assert "2024-01-01|ETHUSDT-1m" in upstream
