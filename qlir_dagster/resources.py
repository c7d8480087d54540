"""Resources: the Binance sources and the storage root, configured from Settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from qlir_core.ingest import SourceMode, Sources
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store


class BinanceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where candles come from: `source` is auto | rest | archive."""

    source: str = SourceMode.AUTO.value
    rest_url: str
    archive_url: str

    @contextmanager
    def sources(self) -> Iterator[Sources]:
        with RestClient(self.rest_url) as client:
            yield Sources(SourceMode(self.source), client, ArchiveClient(self.archive_url))


class StorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The storage root: a local folder or `s3://bucket/prefix` (credentials from the AWS chain)."""

    root: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A missing bucket, bad credentials or a dead endpoint fail the run here, in seconds,
        # before anything is downloaded.
        self.store().check()

    def store(self) -> Store:
        return Store(self.root)
