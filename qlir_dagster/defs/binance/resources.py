"""Resources: the Binance sources and the storage root, configured from Settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from qlir_core.ingest import SourceMode, Sources
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_dagster.instance import fail_dead_runs


class BinanceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where candles come from: the archive, REST, or both (`auto`)."""

    # An Enum field: Dagster's config shows and accepts the member names.
    source: SourceMode = SourceMode.AUTO
    rest_url: str
    archive_url: str
    workers: int = 8  # partitions fetched at once (QLIR_FETCH_WORKERS)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Runs killed before this one (kill -9, a crash) still show as started; without a daemon
        # nothing else would ever mark them failed.
        if context.instance is not None:
            fail_dead_runs(context.instance, context.log)

    @contextmanager
    def sources(self) -> Iterator[Sources]:
        with RestClient(self.rest_url) as client, ArchiveClient(self.archive_url) as archive:
            yield Sources(self.source, client, archive)


class StorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The storage root: a local folder or `s3://bucket/prefix` (credentials from the AWS chain)."""

    root: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A missing bucket, bad credentials or a dead endpoint fail the run here, in seconds,
        # before anything is downloaded.
        self.store().check()

    def store(self) -> Store:
        return Store(self.root)
