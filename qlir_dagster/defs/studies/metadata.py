"""What a study's materialization shows: its charts first (what a user looks at), then the
candles it read, its timings, summary and headline numbers, and the column schema of its tables."""

import base64
from collections.abc import Mapping

import dagster as dg
import pandas as pd

from qlir_core.studies import StudyResult

# The catalog's Columns view reads this key; a materialization has one, so it holds the study's
# first (main) table, and each table's own schema is under `columns_<table>`.
COLUMN_SCHEMA = "dagster/column_schema"


def study_metadata(
    result: StudyResult, run: Mapping[str, dg.MetadataValue]
) -> dict[str, dg.MetadataValue]:
    """Charts, then `run` (candles, timings), the summary, headline numbers and schemas."""
    metadata = {f"chart_{name}": chart(name, png) for name, png in result.charts.items()}
    metadata |= run
    metadata["summary"] = dg.MetadataValue.md(result.summary.to_markdown(index=False))
    metadata |= {k: dg.MetadataValue.float(round(v, 6)) for k, v in result.headline.items()}
    schemas = {name: table_schema(table) for name, table in result.tables.items()}
    if schemas:
        metadata[COLUMN_SCHEMA] = dg.MetadataValue.table_schema(next(iter(schemas.values())))
    metadata |= {f"columns_{n}": dg.MetadataValue.table_schema(s) for n, s in schemas.items()}
    return metadata


def chart(name: str, png: bytes) -> dg.MetadataValue:
    """A PNG inline as a markdown image (the UI renders data: URLs; nothing to serve)."""
    return dg.MetadataValue.md(f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})")


def table_schema(table: pd.DataFrame) -> dg.TableSchema:
    """Each column's name and pandas dtype; a category column lists its values."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype), description=_describe(dtype))
            for name, dtype in table.dtypes.items()
        ]
    )


def _describe(dtype: object) -> str | None:
    if isinstance(dtype, pd.CategoricalDtype):
        order = "ordered " if dtype.ordered else ""
        return f"{order}category: " + ", ".join(map(str, dtype.categories))
    return None
