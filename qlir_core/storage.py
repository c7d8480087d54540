"""The storage layout, one code path for a local folder and for S3 (universal_pathlib over fsspec).

    <root>/klines/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet   the candle table
    <root>/manifest/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet the request ledger
    <root>/raw/symbol=BTCUSDT/interval=1m/date=2023-01-21/<slice_id>.json   payloads, verbatim

Every object is replaced atomically: a reader sees the old object or the new one, never half of
one, and a failed write leaves the previous object in place (see `write_atomic`).

On S3 the endpoint and the credentials come from the standard AWS chain (`qlir_core.s3`); errors
that mean "this root cannot work" (no bucket, no credentials, no endpoint) become qlir errors that
name the root, the bucket and the endpoint, and never a secret.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec.core import split_protocol
from pyarrow.fs import FSSpecHandler, PyFileSystem
from upath import UPath

from qlir_core import candles as candle_table
from qlir_core import manifest, s3
from qlir_core.errors import ConfigError, QlirError
from qlir_core.series import Series

KLINES = "klines"
MANIFEST = "manifest"
RAW = "raw"
STUDIES = "studies"
CHARTS = "charts"
TABLE_FILE = "data.parquet"

_HIVE = ds.partitioning(
    pa.schema([("symbol", pa.string()), ("interval", pa.string()), ("date", pa.string())]),
    flavor="hive",
)
# A stored path's day, parsed by pyarrow as the dataset reads it: `date=2023-01-21/…` → a date.
_DAY = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
# Object stores where one PUT is atomic: the object appears whole when the upload completes
# (multipart uploads too), and a failed upload leaves the previous object. S3 has been strongly
# read-after-write consistent since December 2020, so the next reader sees the new object.
_ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


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
        if isinstance(root, UPath):
            self.root = root
        else:
            if split_protocol(root)[0] in s3.PROTOCOLS:
                storage_options = s3.options(storage_options)
            self.root = UPath(root, **storage_options)
        if self.root.protocol in ("", "file"):
            # pyarrow's dataset listing reports absolute paths: a relative root must be too.
            self.root = self.root.absolute()
        self._root_checked = False

    def __repr__(self) -> str:
        # str(UPath) is the bare URL; storage options (which may hold keys) never appear.
        return f"Store({str(self.root)!r})"

    def check(self) -> None:
        """Fail within seconds, with a clear message, unless the root can be listed and written
        (the bucket exists, the credentials work, the endpoint answers). A run calls it once,
        before fetching anything, so a bad root costs no downloads."""
        with _translated(str(self.root), self.root.fs):
            self._root_checked = False
            self._ensure_root()
            probe = self.root / f".qlir-check-{uuid.uuid4().hex}"
            try:
                write_atomic(probe, b"")
                probe.fs.rm_file(probe.path)
            except PermissionError as e:
                raise ConfigError(f"storage root {self.root} is not writable: {e}") from e

    # -- paths: the layout lives here and nowhere else -------------------------------------
    def partition_dir(self, layer: str, series: Series, day: date) -> UPath:
        return self.series_dir(layer, series) / f"date={day.isoformat()}"

    def series_dir(self, layer: str, series: Series) -> UPath:
        return self.root / layer / f"symbol={series.symbol}" / f"interval={series.interval.value}"

    def candles_path(self, series: Series, day: date) -> UPath:
        return self.partition_dir(KLINES, series, day) / TABLE_FILE

    def manifest_path(self, series: Series, day: date) -> UPath:
        return self.partition_dir(MANIFEST, series, day) / TABLE_FILE

    def raw_dir(self, series: Series, day: date) -> UPath:
        return self.partition_dir(RAW, series, day)

    def study_dir(self, study: str, series: Series | None = None) -> UPath:
        """`studies/<study>`; with a series, where its charts go."""
        folder = self.root / STUDIES / study
        return folder if series is None else self.series_dir(f"{STUDIES}/{study}/{CHARTS}", series)

    def study_table_path(self, study: str, table: str, series: Series) -> UPath:
        return self.series_dir(f"{STUDIES}/{study}/{table}", series) / TABLE_FILE

    # -- writing ---------------------------------------------------------------------------
    def publish(self, part: PartitionData) -> None:
        """Store a partition: raw payloads first, then the candles, then the ledger that
        describes them. Each object is replaced atomically."""
        with self._access():
            raw_dir = self.raw_dir(part.series, part.day)
            for payload in part.raw:
                write_atomic(raw_dir / payload.name, payload.data)
            write_atomic(self.candles_path(part.series, part.day), table_bytes(part.candles))
            write_atomic(
                self.manifest_path(part.series, part.day),
                table_bytes(manifest.to_frame(part.manifest)),
            )

    def write_study_table(
        self, study: str, table: str, series: Series, frame: pd.DataFrame
    ) -> None:
        with self._access():
            write_atomic(self.study_table_path(study, table, series), table_bytes(frame))

    def write_study_chart(self, study: str, chart: str, series: Series, png: bytes) -> None:
        with self._access():
            write_atomic(self.study_dir(study, series) / f"{chart}.png", png)

    # -- reading ---------------------------------------------------------------------------
    def read_study_tables(self, study: str, series: Series) -> dict[str, pd.DataFrame]:
        """Every stored table of one study for one series, by table name."""
        with self._access():
            folder = self.study_dir(study)
            names = (
                sorted(p.name for p in folder.iterdir() if p.name != CHARTS)
                if folder.exists()
                else []
            )
            tables = {n: _read_table(self.study_table_path(study, n, series)) for n in names}
        return {n: t for n, t in tables.items() if t is not None}

    def read_candles(self, series: Series, day: date) -> pd.DataFrame | None:
        """The stored candles of one partition, or None if it was never stored."""
        with self._access():
            return _read_table(self.candles_path(series, day))

    def read_manifest(self, series: Series, day: date) -> list[manifest.ManifestRow] | None:
        with self._access():
            frame = _read_table(self.manifest_path(series, day))
        return None if frame is None else manifest.from_frame(frame)

    def stored_days(self, series: Series) -> list[date]:
        """Days with a stored candle table for `series`, in order: one listing, not one
        request per day."""
        with self._access():
            folder = self.series_dir(KLINES, series)
            keys = folder.fs.find(folder.path)
        days = set()
        for key in keys:
            if PurePosixPath(key).name == TABLE_FILE:
                day = ds.get_partition_keys(_DAY.parse(key.removeprefix(folder.path))).get("date")
                if day is not None:
                    days.add(day)
        return sorted(days)

    def dataset(self, layer: str) -> ds.Dataset:
        """One hive-partitioned pyarrow dataset over a layer (`klines` or `manifest`)."""
        with self._access():
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
        with self._access():
            table = dataset.to_table(columns=list(candle_table.COLUMNS), filter=where)
        frame: pd.DataFrame = table.to_pandas()
        if frame.empty:
            return candle_table.empty()
        frame = frame.sort_values("open_time", kind="stable").reset_index(drop=True)
        return frame.astype({c: candle_table.TIME_DTYPE for c in candle_table.TIME_COLUMNS})

    # -- access ----------------------------------------------------------------------------
    @contextmanager
    def _access(self) -> Iterator[None]:
        """Around every operation: the root confirmed once, S3's failures translated."""
        with _translated(str(self.root), self.root.fs):
            self._ensure_root()
            yield

    def _ensure_root(self) -> None:
        """On S3, confirm once that the bucket exists and can be listed: s3fs reports a missing
        bucket like a missing key, so it would otherwise read as an empty store."""
        if not self._root_checked and s3.is_s3(self.root.fs.protocol):
            s3.check_prefix(self.root.fs, self.root.path)
        self._root_checked = True


def table_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as parquet bytes (zstd), without the pandas index."""
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def write_atomic(path: UPath, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old object or the new one, never a part.

    On an object store that is what a single PUT does, so the bytes go straight to the final
    key (no staged key to copy, delete or leave behind, and no `makedirs`, which s3fs answers
    by creating a missing bucket). On a disk they go to a hidden staged name in the same folder
    (dataset readers skip names starting with a dot) and are renamed over the final name."""
    fs = path.fs
    with _translated(str(path), fs):
        if _put_is_atomic(fs.protocol):
            fs.pipe_file(path.path, data)
            return
        staged = f"{path.parent.path}/.{path.name}.{uuid.uuid4().hex}.tmp"
        fs.makedirs(path.parent.path, exist_ok=True)
        try:
            fs.pipe_file(staged, data)
            fs.mv(staged, path.path)
        except BaseException:
            if fs.exists(staged):
                fs.rm(staged)
            raise


def _put_is_atomic(protocol: str | tuple[str, ...]) -> bool:
    names = (protocol,) if isinstance(protocol, str) else protocol
    return any(name in _ATOMIC_PUT for name in names)


@contextmanager
def _translated(url: str, fs: Any) -> Iterator[None]:
    """Re-raise S3's configuration and reachability failures as qlir errors naming `url`."""
    try:
        yield
    except QlirError:
        raise
    except Exception as e:
        translated = s3.translate(e, url, fs)
        if translated is None:
            raise
        raise translated from e


def _read_table(path: UPath) -> pd.DataFrame | None:
    try:
        data = path.fs.cat_file(path.path)
    except FileNotFoundError as e:
        if s3.missing_bucket(e):
            raise
        return None
    frame: pd.DataFrame = pq.read_table(io.BytesIO(data)).to_pandas()
    return frame
