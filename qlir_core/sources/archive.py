"""A reader for the daily kline archive (data.binance.vision layout): over HTTP(S) with one
pooled httpx client (`https://data.binance.vision`, a mirror), or at any fsspec URL (a local
folder, `s3://bucket/prefix`).

The zip's sha256 is checked against its `.CHECKSUM` before anything is parsed. The client may be
shared by threads: httpx's connection pool and fsspec's filesystems are both thread-safe.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from qlir_core import binance, candles
from qlir_core.errors import (
    ChecksumMismatch,
    Malformation,
    MalformedFile,
    NetworkError,
    NotPublished,
    RequestRejected,
    ServerError,
)
from qlir_core.series import Series

if TYPE_CHECKING:
    from upath import UPath

DEFAULT_URL = binance.ARCHIVE_URL
TIMEOUT_S = 30.0  # a day's zip of 1s candles is a few MB
day_path = binance.archive_day_path  # a day's zip, relative to the archive root


@dataclass(frozen=True)
class ArchiveDay:
    url: str
    zip_bytes: bytes
    checksum: bytes
    candles: pd.DataFrame
    requested_at: pd.Timestamp
    completed_at: pd.Timestamp
    duration_ms: float


class ArchiveClient:
    def __init__(self, base_url: str = DEFAULT_URL, **storage_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        if self.base_url.startswith(("http://", "https://")):
            self._http: httpx.Client | None = httpx.Client(timeout=TIMEOUT_S)
        else:
            from upath import UPath  # fsspec's filesystems, loaded only for such a root

            self._http = None
            self._base = UPath(self.base_url, **storage_options)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> ArchiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, series: Series, day: date) -> str:
        return binance.archive_url(self.base_url, series, day)

    def fetch(self, series: Series, day: date) -> ArchiveDay:
        """The day's candles, verified against the published sha256."""
        requested_at = pd.Timestamp.now(tz="UTC")
        started = time.perf_counter()
        url = self.url(series, day)
        data = self._read(day_path(series, day))
        checksum = self._read(day_path(series, day) + binance.CHECKSUM_SUFFIX)
        verify(data, checksum, url)
        table = candles.from_csv(unzip_single(data, url), source=url)
        return ArchiveDay(
            url=url,
            zip_bytes=data,
            checksum=checksum,
            candles=table,
            requested_at=requested_at,
            completed_at=pd.Timestamp.now(tz="UTC"),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def _read(self, relative: str) -> bytes:
        if self._http is None:
            return _read_path(self._base / relative)
        return _get(self._http, f"{self.base_url}/{relative}")


def verify(data: bytes, checksum: bytes, url: str) -> None:
    """Raise ChecksumMismatch unless sha256(data) is the digest the CHECKSUM file names."""
    expected = checksum.decode(errors="replace").strip().split(" ")[0].lower()
    actual = hashlib.sha256(data).hexdigest()
    if expected != actual:
        raise ChecksumMismatch(
            f"{url}: sha256 is {actual}, but its CHECKSUM says {expected or '(empty)'}"
        )


def unzip_single(data: bytes, url: str) -> bytes:
    """The one CSV inside an archive zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise MalformedFile(
                    f"{url}: expected one CSV in the zip, found {names}", Malformation.BAD_ZIP
                )
            return archive.read(names[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise MalformedFile(f"{url}: not a readable zip ({e})", Malformation.BAD_ZIP) from e


def _get(http: httpx.Client, url: str) -> bytes:
    """The file at `url`; its absence, a server failure or no answer as qlir errors."""
    try:
        response = http.get(url)
    except httpx.TimeoutException as e:
        raise NetworkError(f"GET {url}: timed out ({type(e).__name__})") from e
    except httpx.TransportError as e:
        raise NetworkError(f"GET {url}: {type(e).__name__}: {e}") from e
    status = response.status_code
    if status == 404:
        raise NotPublished(f"{url}: the archive has no such file (not published yet?)")
    if status >= 500:
        raise ServerError(f"GET {url}: HTTP {status}", status)
    if status >= 400:
        raise RequestRejected(f"GET {url}: HTTP {status}", status)
    return response.content


def _read_path(path: UPath) -> bytes:
    try:
        return path.fs.cat_file(path.path)  # type: ignore[no-any-return]
    except FileNotFoundError as e:
        raise NotPublished(f"{path}: the archive has no such file (not published yet?)") from e
    except OSError as e:
        raise NetworkError(f"{path}: {type(e).__name__}: {e}") from e
