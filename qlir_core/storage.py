"""The storage layout, one code path for a local folder and for S3 (universal_pathlib over fsspec).

    <root>/klines/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet   the candle table
    <root>/manifest/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet the request ledger
    <root>/raw/symbol=BTCUSDT/interval=1m/date=2023-01-21/<slice_id>.json   payloads, verbatim

Every object is written to a hidden staged name and then moved to its final name, so a reader
never sees half a file (a rename on disk, a server-side copy on S3), and a failed write leaves
the previous object in place. Dataset readers skip the staged names (they start with a dot).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyarrow.fs import FSSpecHandler, PyFileSystem
from upath import UPath

from qlir_core import candles as candle_table
from qlir_core import manifest
from qlir_core.series import Series

KLINES = "klines"
MANIFEST = "manifest"
RAW = "raw"
TABLE_FILE = "data.parquet"

_HIVE = ds.partitioning(
    pa.schema([("symbol", pa.string()), ("interval", pa.string()), ("date", pa.string())]),
    flavor="hive",
)


@dataclass(frozen=True)
class RawPayload:
    """One verbatim payload; `name` is its file name inside the partition's raw folder."""

    name: str
    data: bytes


@dataclass(frozen=True)
class PartitionData:
    """Everything one (series, day) partition publishes."""

    series: Series
    day: date
    candles: pd.DataFrame
    manifest: list[manifest.ManifestRow]
    raw: list[RawPayload]


class Store:
    """Reads and writes qlir's tables under one root URL (`./data`, `s3://bucket/prefix`)."""

    def __init__(self, root: str | UPath, **storage_options: Any) -> None:
        self.root = root if isinstance(root, UPath) else UPath(root, **storage_options)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- paths: the layout lives here and nowhere else -------------------------------------
    def partition_dir(self, layer: str, series: Series, day: date) -> UPath:
        return (
            self.root
            / layer
            / f"symbol={series.symbol}"
            / f"interval={series.interval.value}"
            / f"date={day.isoformat()}"
        )

    def candles_path(self, series: Series, day: date) -> UPath:
        return self.partition_dir(KLINES, series, day) / TABLE_FILE

    def manifest_path(self, series: Series, day: date) -> UPath:
        return self.partition_dir(MANIFEST, series, day) / TABLE_FILE

    def raw_dir(self, series: Series, day: date) -> UPath:
        return self.partition_dir(RAW, series, day)

    # -- writing ---------------------------------------------------------------------------
    def publish(self, part: PartitionData) -> None:
        """Store a partition: raw payloads first, then the candles, then the ledger that
        describes them. Each object is replaced atomically."""
        raw_dir = self.raw_dir(part.series, part.day)
        for payload in part.raw:
            write_atomic(raw_dir / payload.name, payload.data)
        write_atomic(self.candles_path(part.series, part.day), table_bytes(part.candles))
        write_atomic(
            self.manifest_path(part.series, part.day),
            table_bytes(manifest.to_frame(part.manifest)),
        )

    # -- reading ---------------------------------------------------------------------------
    def read_candles(self, series: Series, day: date) -> pd.DataFrame | None:
        """The stored candles of one partition, or None if it was never stored."""
        return _read_table(self.candles_path(series, day))

    def read_manifest(self, series: Series, day: date) -> list[manifest.ManifestRow] | None:
        frame = _read_table(self.manifest_path(series, day))
        return None if frame is None else manifest.from_frame(frame)

    def stored_days(self, series: Series) -> list[date]:
        """Days with a stored candle table for `series`, in order."""
        folder = (
            self.root / KLINES / f"symbol={series.symbol}" / f"interval={series.interval.value}"
        )
        if not folder.exists():
            return []
        days = [
            date.fromisoformat(p.name.removeprefix("date="))
            for p in folder.iterdir()
            if p.name.startswith("date=") and (p / TABLE_FILE).exists()
        ]
        return sorted(days)

    def dataset(self, layer: str) -> ds.Dataset:
        """One hive-partitioned pyarrow dataset over a layer (`klines` or `manifest`)."""
        path = self.root / layer
        fs = PyFileSystem(FSSpecHandler(path.fs))
        if not path.exists():
            raise FileNotFoundError(f"nothing is stored under {path}")
        return ds.dataset(path.path, filesystem=fs, format="parquet", partitioning=_HIVE)

    def scan_candles(self, series: Series, days: Iterable[date] | None = None) -> pd.DataFrame:
        """Every stored candle of `series` as one table sorted by open time: a single dataset
        scan with partition pruning, not one read per day."""
        try:
            dataset = self.dataset(KLINES)
        except FileNotFoundError:
            return candle_table.empty()
        where = (ds.field("symbol") == series.symbol) & (
            ds.field("interval") == series.interval.value
        )
        if days is not None:
            where &= ds.field("date").isin([d.isoformat() for d in days])
        table = dataset.to_table(columns=list(candle_table.COLUMNS), filter=where)
        frame: pd.DataFrame = table.to_pandas()
        if frame.empty:
            return candle_table.empty()
        frame = frame.sort_values("open_time", kind="stable").reset_index(drop=True)
        return frame.astype({c: candle_table.TIME_DTYPE for c in candle_table.TIME_COLUMNS})


def table_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as parquet bytes (zstd), without the pandas index."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def write_atomic(path: UPath, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old object or the new one, never a part."""
    fs = path.fs
    staged = f"{path.parent.path}/.{path.name}.{uuid.uuid4().hex}.tmp"
    fs.makedirs(path.parent.path, exist_ok=True)
    try:
        fs.pipe_file(staged, data)
        fs.mv(staged, path.path)
    except BaseException:
        if fs.exists(staged):
            fs.rm(staged)
        raise


def _read_table(path: UPath) -> pd.DataFrame | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    frame: pd.DataFrame = pq.read_table(io.BytesIO(data)).to_pandas()
    return frame
