"""The storage layout, one code path for a local folder and for S3 (universal_pathlib over fsspec).

    <root>/klines/symbol=BTCUSDT/interval=1m/date=2023-01-21/data.parquet   the current candles
    <root>/versions/symbol=BTCUSDT/interval=1m/date=2023-01-21/<version>/   one publish, whole:
        candles.parquet   its candle table           manifest.parquet   its request ledger
        raw/<slice_id>.json                          its payloads, verbatim
    <root>/corrections/symbol=BTCUSDT/interval=1m/date=2023-01-21/<version>.parquet
                                                     what that version changed in the one before
    <root>/locks/symbol=BTCUSDT/interval=1m/date=2023-01-21.lock   held while it is published

That is the klines dataset. Another endpoint's dataset (`binance.Endpoint`) has the same layout
in folders named after it: `uiklines/`, `uiklines_versions/`, `uiklines_corrections/`,
`uiklines_locks/` (`Layout`); a Store reads and writes one dataset.

A partition is one unit. A publish writes a new version's files first, all under its version id
(`qlir_core.versions`), where no reader looks, and then commits it by replacing the current candle
table, the one object readers resolve: its parquet key-value metadata carries the `Stamp` that
names the version and fingerprints its manifest, raw payloads and candles. A publish killed
before the commit leaves the previous version current, whole; after it, the new one. So
`klines/` stays a plain hive dataset that pyarrow, DuckDB or polars read with partition pruning
and no duplicates, and the ledger and payloads of the current candles are the ones of its stamp.

Versions that are neither current nor kept by the stamp (`Stamp.kept`, the versions a correction
replaced) are staging leftovers, deleted by the next publish of the partition. A candle table
without a stamp (written by another tool) stands for the partition's newest version.

Every object is replaced atomically: a reader sees the old object or the new one, never half of
one, and a failed write leaves the previous object in place (see `write_atomic`).

On S3 the endpoint and the credentials come from the standard AWS chain (`qlir_core.s3`); errors
that mean "this root cannot work" (no bucket, no credentials, no endpoint) become qlir errors that
name the root, the bucket and the endpoint, and never a secret.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from fsspec.core import split_protocol
from pyarrow._parquet import ParquetReader
from pyarrow.fs import FileSelector, FileSystem, FSSpecHandler, LocalFileSystem, PyFileSystem
from upath import UPath

from qlir_core import candles as candle_table
from qlir_core import locks, manifest, s3
from qlir_core.binance import Endpoint
from qlir_core.corrections import Correction
from qlir_core.corrections import to_frame as corrections_table
from qlir_core.errors import ConfigError, OperationalError, QlirError
from qlir_core.series import Series
from qlir_core.versions import STAMP_KEY, Stamp, fetched_at_ms, sha256, version_id

KLINES = "klines"
MANIFEST = "manifest"  # a dataset (`Store.dataset`): the current versions' ledgers
VERSIONS = "versions"
CORRECTIONS = "corrections"
LOCKS = "locks"
STUDIES = "studies"
CHARTS = "charts"
TABLE_FILE = "data.parquet"
CANDLES_FILE = "candles.parquet"
MANIFEST_FILE = "manifest.parquet"
RAW = "raw"

_HIVE = ds.partitioning(
    pa.schema([("symbol", pa.string()), ("interval", pa.string()), ("date", pa.string())]),
    flavor="hive",
)
# Readers of a scan, each reading its own run of days. Of 2, 3, 4, 6 and 8, measured side by
# side on a two-core machine against a year of 1m day files, 3 and 4 were fastest; more only
# queue behind each other.
_SCAN_READERS = 4
# Day files an object-store reader fetches at once, one GET each: the readers together fill
# the S3 client's pool (8 each), and a small batch bounds the memory a scan of 1s days holds.
_FETCH_BATCH = s3.POOL_CONNECTIONS // _SCAN_READERS
# Object stores where one PUT is atomic: the object appears whole when the upload completes
# (multipart uploads too), and a failed upload leaves the previous object. S3 has been strongly
# read-after-write consistent since December 2020, so the next reader sees the new object.
_ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})

# Called after each write of a publish with what was just written ("raw:<name>", "manifest",
# "candles", "corrections", "commit"); tests stop a publish there.
Step = Callable[[str], None]
PartitionKey = tuple[str, str, str]  # symbol, interval, date as the hive paths spell them


@dataclass(frozen=True)
class Layout:
    """The folders of one endpoint's dataset under the root."""

    candles: str  # the current candle tables: a plain hive dataset
    versions: str
    corrections: str
    locks: str

    @classmethod
    def of(cls, endpoint: Endpoint) -> Layout:
        if endpoint is Endpoint.KLINES:
            return cls(KLINES, VERSIONS, CORRECTIONS, LOCKS)
        name = endpoint.value
        return cls(name, f"{name}_{VERSIONS}", f"{name}_{CORRECTIONS}", f"{name}_{LOCKS}")


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
    """Reads and writes qlir's tables under one root URL (`./data`, `s3://bucket/prefix`): the
    candles of `endpoint`, and the studies."""

    def __init__(
        self, root: str | UPath, *, endpoint: Endpoint = Endpoint.KLINES, **storage_options: Any
    ) -> None:
        self.endpoint = endpoint
        self.layout = Layout.of(endpoint)
        s3.refuse_credentials(str(root))  # else they would show in every repr and message
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
        if self.endpoint is Endpoint.KLINES:
            return f"Store({str(self.root)!r})"
        return f"Store({str(self.root)!r}, {self.endpoint})"

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
        """The current candle table: the partition's commit point."""
        return self.partition_dir(self.layout.candles, series, day) / TABLE_FILE

    def version_dir(self, series: Series, day: date, version: str) -> UPath:
        return self.partition_dir(self.layout.versions, series, day) / version

    def manifest_path(self, series: Series, day: date, version: str | None = None) -> UPath:
        """The ledger of `version` (None: the current one)."""
        return self._version_of(series, day, version) / MANIFEST_FILE

    def raw_dir(self, series: Series, day: date, version: str | None = None) -> UPath:
        """The payloads of `version` (None: the current one)."""
        return self._version_of(series, day, version) / RAW

    def corrections_path(self, series: Series, day: date, version: str) -> UPath:
        return self.partition_dir(self.layout.corrections, series, day) / f"{version}.parquet"

    def lock_path(self, series: Series, day: date) -> UPath:
        return self.series_dir(self.layout.locks, series) / f"date={day.isoformat()}.lock"

    def study_dir(self, study: str, series: Series | None = None) -> UPath:
        """`studies/<study>`; with a series, where its charts go."""
        folder = self.root / STUDIES / study
        return folder if series is None else self.series_dir(f"{STUDIES}/{study}/{CHARTS}", series)

    def study_table_path(self, study: str, table: str, series: Series) -> UPath:
        return self.series_dir(f"{STUDIES}/{study}/{table}", series) / TABLE_FILE

    # -- writing ---------------------------------------------------------------------------
    @contextmanager
    def locked(self, series: Series, day: date) -> Iterator[None]:
        """Hold the partition's cross-process lock (see `qlir_core.locks`)."""
        with self._access(), locks.held(self.lock_path(series, day)):
            yield

    def publish(
        self,
        part: PartitionData,
        *,
        corrections: Sequence[Correction] = (),
        step: Step | None = None,
    ) -> Stamp:
        """Store a partition as one new version: its raw payloads, ledger and candles under the
        version id, then (last) the current candle table that commits it. `corrections` are
        what this version changes in the current one: recorded in the corrections table, and
        the version they replace is kept readable. Other replaced versions, and anything an
        earlier publish left uncommitted, are deleted once the commit is written. Writers that
        may race hold `locked` around it (`publish.publish_partition` does)."""
        done = step or _no_step
        with self._access():
            previous = self.stamp(part.series, part.day)
            kept = () if previous is None else previous.kept
            if corrections and previous is not None:
                kept = (*kept, previous.version)
            candles = candle_arrow(part.candles)
            candles_bytes = candle_bytes(candles)
            ledger = manifest.to_arrow(part.manifest)
            manifest_bytes = parquet_bytes(ledger)
            raw = {p.name: sha256(p.data) for p in part.raw}
            fetched = fetched_at_ms(part.manifest)
            digests = [sha256(candles_bytes), sha256(manifest_bytes)]
            # The version names the fetch, not how long this store took to write it: the same
            # fetch gets the same version on a disk and on S3. Without its persist times the
            # ledger is written as for rows that have none.
            fetch_only = (
                parquet_bytes(manifest.to_arrow(part.manifest, persisted=False))
                if "persist_ms" in ledger.column_names
                else manifest_bytes
            )
            identity = [digests[0], sha256(fetch_only)]
            version = version_id(fetched, identity + [f"{n}:{d}" for n, d in sorted(raw.items())])
            folder = self.version_dir(part.series, part.day, version)
            for payload in part.raw:
                write_atomic(folder / RAW / payload.name, payload.data)
                done(f"{RAW}:{payload.name}")
            write_atomic(folder / MANIFEST_FILE, manifest_bytes)
            done("manifest")
            write_atomic(folder / CANDLES_FILE, candles_bytes)
            done("candles")
            if corrections:
                replaced = "" if previous is None else previous.version
                table = corrections_table(corrections, replaced, version, pd.Timestamp.now("UTC"))
                write_atomic(
                    self.corrections_path(part.series, part.day, version), table_bytes(table)
                )
                done(CORRECTIONS)
            stamp = Stamp(
                version=version,
                fetched_at_ms=fetched,
                candles_sha256=digests[0],
                manifest_sha256=digests[1],
                raw_sha256=raw,
                kept=tuple(dict.fromkeys(v for v in kept if v != version)),
            )
            commit = candle_bytes(candles, stamp)
            write_atomic(self.candles_path(part.series, part.day), commit)
            done("commit")
            self._remove_versions(part.series, part.day, stamp.retained)
        return stamp

    def clean(self, series: Series, day: date) -> None:
        """Delete what earlier publishes of the partition left uncommitted."""
        with self._access():
            stamp = self.stamp(series, day)
            if stamp is not None:
                self._remove_versions(series, day, stamp.retained)

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

    def stamp(self, series: Series, day: date) -> Stamp | None:
        """What the current candle table says about its version (None: nothing committed, or
        a table without a stamp)."""
        with self._access():
            return _read_stamp(self.candles_path(series, day))

    def versions(self, series: Series, day: date) -> list[str]:
        """The partition's readable versions, oldest first; the last is the current one."""
        with self._access():
            stamp = self.stamp(series, day)
            if stamp is not None:
                return [*stamp.kept, stamp.version]
            if not self.candles_path(series, day).exists():
                return []
            return self._stored_versions(series, day)

    def read_candles(
        self, series: Series, day: date, version: str | None = None
    ) -> pd.DataFrame | None:
        """The candles of one partition (of `version`; None: the current ones), or None."""
        with self._access():
            if version is None:
                return _read_table(self.candles_path(series, day))
            return _read_table(self.version_dir(series, day, version) / CANDLES_FILE)

    def read_manifest(
        self, series: Series, day: date, version: str | None = None
    ) -> list[manifest.ManifestRow] | None:
        """The ledger of one partition (of `version`; None: the current one), or None."""
        with self._access():
            if version is None and not self.candles_path(series, day).exists():
                return None
            frame = _read_table(self.manifest_path(series, day, version))
        return None if frame is None else manifest.from_frame(frame)

    def read_raw(self, series: Series, day: date, version: str | None = None) -> list[RawPayload]:
        """The payloads of one partition (of `version`; None: the current one), by name."""
        with self._access():
            folder = self.raw_dir(series, day, version)
            if version is None and not self.candles_path(series, day).exists():
                return []
            try:
                names = sorted(PurePosixPath(p).name for p in folder.fs.ls(folder.path, False))
            except FileNotFoundError:
                return []
            return [RawPayload(n, folder.fs.cat_file(f"{folder.path}/{n}")) for n in names]

    def stored_days(self, series: Series) -> list[date]:
        """Days with a stored candle table for `series`, in order: one listing, not one
        request per day."""
        return list(self._day_tables(series))

    def _day_tables(self, series: Series) -> dict[date, str]:
        """The key of each stored candle table of `series` by its day, in day order, from one
        listing through pyarrow's filesystem (no path object per day: a year is hundreds)."""
        with self._access():
            folder = self.series_dir(self.layout.candles, series)
            fs = _arrow_fs(folder)
            found = fs.get_file_info(
                FileSelector(folder.path, allow_not_found=True, recursive=True)
            )
        tables = {}
        for info in found:
            if info.base_name == TABLE_FILE:
                day = _folder_day(info.path)
                if day is not None:
                    tables[day] = info.path
        return dict(sorted(tables.items()))

    def candles_dataset(self, series: Series | None = None) -> ds.Dataset:
        """The current candles of this store's endpoint as one hive-partitioned dataset, of
        `series` or of every series."""
        return self.dataset(self.layout.candles, series)

    def dataset(self, layer: str, series: Series | None = None) -> ds.Dataset:
        """One hive-partitioned pyarrow dataset over a layer: a folder under the root, such as
        `klines` (the current candles) or `corrections`, or `manifest` (the current versions'
        ledgers of this store's endpoint). With `series`, only its folder is listed, however
        many other series the store holds."""
        if layer == MANIFEST:
            return self.manifest_dataset(series=series)
        with self._access():
            base = self.root / layer
            path = base if series is None else self.series_dir(layer, series)
            if not path.exists():
                raise FileNotFoundError(f"nothing is stored under {path}")
            return ds.dataset(
                path.path,
                filesystem=_arrow_fs(path),
                format="parquet",
                partitioning=_HIVE,
                partition_base_dir=base.path,
            )

    def manifest_dataset(
        self, *, uncommitted: bool = False, series: Series | None = None
    ) -> ds.Dataset:
        """The ledgers of the current versions (of `series`, or of all) as one hive-partitioned
        dataset: two listings and one footer read per partition. With `uncommitted`, a
        partition that has versions and no candle table adds its newest version's ledger."""
        with self._access():
            base = self.root / self.layout.versions
            fs = _arrow_fs(base)
            chosen = self._current_versions(uncommitted, series)
            files = [f"{base.path}/{'/'.join(_hive(k))}/{v}/{MANIFEST_FILE}" for k, v in chosen]
            if not files:
                raise FileNotFoundError(f"no ledger is stored under {base}")
            return ds.dataset(
                files,
                filesystem=fs,
                format="parquet",
                partitioning=_HIVE,
                partition_base_dir=base.path,
            )

    def scan_candles(
        self,
        series: Series,
        days: Iterable[date] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Every stored candle of `series` (on `days`, or all) as one table sorted by open time.
        `columns` (open_time always comes too) reads only those columns of the files; by
        default every column. The day files are found with one listing and read a few at a
        time: a year is hundreds of small files, so their count, not their bytes, sets the
        cost, and one file's reads overlap another's."""
        wanted = [
            c for c in candle_table.COLUMNS if columns is None or c in columns or c == "open_time"
        ]
        stored = self._day_tables(series)
        chosen = stored.keys() if days is None else sorted(set(days).intersection(stored))
        if not chosen:
            return candle_table.empty().loc[:, wanted]
        keys = [stored[day] for day in chosen]
        schema = pa.schema([candle_table.ARROW_SCHEMA.field(c) for c in wanted])
        # contiguous runs, one per reader: a year is hundreds of files, too many for a task each
        step = -(-len(keys) // _SCAN_READERS)
        runs = [keys[start : start + step] for start in range(0, len(keys), step)]
        with self._access():
            read = _readers().map(lambda run: _read_run(self.root, run, schema), runs)
            table = pa.concat_tables([table for run in read for table in run])
        # Day files come in date order and each is sorted, so the table usually is: sorted
        # here only when it is not, in Arrow, before the one copy into pandas.
        opens = table.column("open_time").cast(pa.int64()).to_numpy()
        if not bool((np.diff(opens) >= 0).all()):
            table = table.sort_by("open_time")
        frame: pd.DataFrame = table.to_pandas()
        return frame

    # -- versions --------------------------------------------------------------------------
    def _version_of(self, series: Series, day: date, version: str | None) -> UPath:
        if version is None:
            stamp = _read_stamp(self.candles_path(series, day))
            stored = self._stored_versions(series, day) if stamp is None else [stamp.version]
            version = stored[-1] if stored else "none"
        return self.version_dir(series, day, version)

    def _stored_versions(self, series: Series, day: date) -> list[str]:
        """Every version folder of the partition, committed or not, oldest first."""
        folder = self.partition_dir(self.layout.versions, series, day)
        try:
            entries = folder.fs.ls(folder.path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(PurePosixPath(e["name"]).name for e in entries if e["type"] == "directory")

    def _remove_versions(self, series: Series, day: date, retained: frozenset[str]) -> None:
        fs = self.root.fs
        for version in self._stored_versions(series, day):
            if version not in retained:
                fs.rm(self.version_dir(series, day, version).path, recursive=True)
        folder = self.partition_dir(self.layout.corrections, series, day)
        try:
            names = [PurePosixPath(p).name for p in fs.ls(folder.path, detail=False)]
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".parquet") and name.removesuffix(".parquet") not in retained:
                fs.rm_file(f"{folder.path}/{name}")

    def _current_versions(
        self, uncommitted: bool, series: Series | None = None
    ) -> list[tuple[PartitionKey, str]]:
        """Each partition's current version (see the module docstring), in path order: of
        `series` (listing only its folders), or of every series."""
        fs = self.root.fs

        def listed(layer: str) -> list[str]:
            folder = self.root / layer if series is None else self.series_dir(layer, series)
            return list(fs.find(folder.path))

        stored: dict[PartitionKey, list[str]] = {}
        base = (self.root / self.layout.versions).path
        for key in listed(self.layout.versions):
            parts = key.removeprefix(base).strip("/").split("/")
            if len(parts) == 5 and parts[4] == MANIFEST_FILE:
                stored.setdefault(_partition(parts[:3]), []).append(parts[3])
        current = (self.root / self.layout.candles).path
        committed: dict[PartitionKey, Stamp | None] = {}
        for key in listed(self.layout.candles):
            parts = key.removeprefix(current).strip("/").split("/")
            if len(parts) == 4 and parts[3] == TABLE_FILE:
                committed[_partition(parts[:3])] = _stamp_at(fs, key)
        chosen = []
        for partition, versions in sorted(stored.items()):
            if partition in committed:
                stamp = committed[partition]
                version = max(versions) if stamp is None else stamp.version
                if version in versions:
                    chosen.append((partition, version))
            elif uncommitted:
                chosen.append((partition, max(versions)))
        return chosen

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


def table_bytes(frame: pd.DataFrame, stamp: Stamp | None = None) -> bytes:
    """A DataFrame as parquet bytes (zstd), without the pandas index; `stamp` in its metadata."""
    return parquet_bytes(pa.Table.from_pandas(frame, preserve_index=False), stamp)


def candle_arrow(candles: pd.DataFrame) -> pa.Table:
    """A candle table as Arrow in the stored types and column order, without pandas' copy of
    its schema (see `candle_bytes`). Column by column: `Table.from_pandas` took six times as
    long on a 1m day, most of it building the schema metadata dropped here. A NaN is missing,
    as pandas has it."""
    schema = candle_table.ARROW_SCHEMA
    columns = [pa.array(candles[f.name], f.type, from_pandas=True) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def candle_bytes(candles: pa.Table, stamp: Stamp | None = None) -> bytes:
    """A candle table (`candle_arrow`) as parquet bytes; `stamp` in its footer. Candle files
    are many, small and read far more often than written, so they are laid out for reading:
    the footer holds the parquet schema alone (its types read back as the candle columns; a
    study's scan parses one footer per day file), values are not dictionary-encoded (prices
    and volumes rarely repeat), and pages are LZ4 (Parquet's LZ4_RAW). On real 1m days that
    is as large as zstd with dictionaries, written in a third of its time and read in half;
    zstd without dictionaries is 0.73 times the size and 1.2-1.6 times slower to read
    (bench/bench_candle_files.py)."""
    return _parquet(candles, stamp, compression="lz4", store_schema=False, use_dictionary=False)


def parquet_bytes(table: pa.Table, stamp: Stamp | None = None) -> bytes:
    """A table as parquet bytes (zstd); `stamp` in its footer's metadata."""
    return _parquet(table, stamp, compression="zstd")


def _parquet(table: pa.Table, stamp: Stamp | None, **options: Any) -> bytes:
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, **options) as writer:
        writer.write_table(table)
        if stamp is not None:
            writer.add_key_value_metadata({STAMP_KEY: stamp.encode()})
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


def _read_run(root: UPath, keys: Sequence[str], schema: pa.Schema) -> list[pa.Table]:
    """The columns of `schema` from the candle tables `keys` under `root`, in order."""
    return [_read_columns(source, key, schema) for key, source in _opened(root, keys)]


def _opened(root: UPath, keys: Sequence[str]) -> Iterator[tuple[str, pa.NativeFile]]:
    """Each stored file of `keys`, in order, open for reading: a local one in place (only the
    wanted columns are read), an object store's fetched whole, a batch per overlapped call."""
    if _is_local(root):
        fs = LocalFileSystem()
        for key in keys:
            yield key, fs.open_input_file(key)
        return
    for start in range(0, len(keys), _FETCH_BATCH):
        batch = list(keys[start : start + _FETCH_BATCH])
        # From byte 0 to the end: one GET, with no size lookup first (s3fs makes one for None).
        fetched = root.fs.cat_ranges(batch, 0, None, on_error="return")
        for key, data in zip(batch, fetched, strict=True):
            if isinstance(data, FileNotFoundError):
                raise OperationalError(f"{key} was removed while the scan read it") from data
            if isinstance(data, BaseException):
                raise data
            yield key, pa.BufferReader(data)
        del fetched, data  # not held while the next batch downloads


def _read_columns(source: pa.NativeFile, key: str, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` from one stored candle table (`key`, open as `source`), cast to
    it: files of other writers may differ in a time column's unit or zone, or carry pandas' copy
    of the schema."""
    with source as handle:
        # The reader under pq.ParquetFile, with a lighter column lookup than the wrapper's map
        # of nested paths: a year's scan opens hundreds of files (7 % of its time, measured).
        reader = ParquetReader()
        reader.open(handle)
        # Each leaf column's name, None for a nested one: a candle column is there exactly once.
        leaves = [path[0] if len(path) == 1 else None for path in reader.column_paths]
        unusable = [name for name in schema.names if leaves.count(name) != 1]
        if unusable:
            raise OperationalError(
                f"{key} is not a candle table: it has no single flat column {', '.join(unusable)}"
            )
        indices = [leaves.index(name) for name in schema.names]
        table = reader.read_all(column_indices=indices, use_threads=False)
    table = table.replace_schema_metadata(None)
    if table.schema.equals(schema):  # the store's own files: nothing to cast
        return table
    return table.select(schema.names).cast(schema)


@cache
def _readers() -> ThreadPoolExecutor:
    """The scans' readers, started once per process: starting them was a few percent of a
    year's scan. A forked child has none of its parent's threads, so it starts its own. Only
    `_read_run` runs on them: a scan started from one would wait for itself."""
    return ThreadPoolExecutor(_SCAN_READERS, thread_name_prefix="qlir-scan")


os.register_at_fork(after_in_child=_readers.cache_clear)


def _folder_day(key: str) -> date | None:
    """The day of a stored table from its folder, `…/date=2023-01-21/data.parquet`."""
    name = key.rpartition("/")[0].rpartition("/")[2]
    if not name.startswith("date="):
        return None
    text = name.removeprefix("date=")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    # only the folder name a store writes: fromisoformat also takes 20230121 and 2023-W03-6
    return day if day.isoformat() == text else None


def _read_stamp(path: UPath) -> Stamp | None:
    """The stamp of a stored candle table, from its footer alone."""
    return _stamp_at(path.fs, path.path)


def _stamp_at(fs: Any, key: str) -> Stamp | None:
    try:
        with fs.open(key, "rb") as f:
            # the footer's own key-value pairs: Arrow's schema copy, when a file has one,
            # does not hold pairs added after its table
            metadata = pq.ParquetFile(f).metadata.metadata or {}
    except FileNotFoundError as e:
        if s3.missing_bucket(e):
            raise
        return None
    found = metadata.get(STAMP_KEY)
    return None if found is None else Stamp.decode(found)


def _partition(parts: list[str]) -> PartitionKey:
    symbol, interval, day = (p.partition("=")[2] for p in parts)
    return symbol, interval, day


def on_days(days: Iterable[date]) -> ds.Expression:
    """A dataset filter to the partitions of `days` (none when the list is empty)."""
    return ds.field("date").isin(pa.array([d.isoformat() for d in days], pa.string()))


def _hive(key: PartitionKey) -> tuple[str, str, str]:
    symbol, interval, day = key
    return f"symbol={symbol}", f"interval={interval}", f"date={day}"


def _no_step(written: str) -> None:
    """No pause between the writes of a publish."""


def _arrow_fs(path: UPath) -> FileSystem:
    """pyarrow's own filesystem for a local root (its C++ reads, about 1.3 times faster on a
    year of day files), fsspec's through pyarrow's handler for any other."""
    if _is_local(path):
        return LocalFileSystem()
    return PyFileSystem(FSSpecHandler(path.fs))


def _is_local(path: UPath) -> bool:
    """Whether `path` is on this machine's own filesystem."""
    return path.protocol in ("", "file", "local")
