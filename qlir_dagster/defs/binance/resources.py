"""Resources: the Binance sources and the storage root, configured from Settings."""

from __future__ import annotations

from contextlib import AbstractContextManager

import dagster as dg

from qlir_core import logs
from qlir_core.binance import Endpoint
from qlir_core.ingest import SourceMode, Sources, SourceSpec
from qlir_core.storage import Store
from qlir_dagster.instance import fail_dead_runs


class BinanceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where candles come from: the archive, REST, or both (`auto`)."""

    # An Enum field: Dagster's config shows and accepts the member names.
    source: SourceMode = SourceMode.AUTO
    rest_url: str
    archive_url: str
    # `file` or redis://…; None: $QLIR_BUDGET_STORE, else `file` (qlir_core.budget_store).
    budget_store: str | None = None
    workers: int = 8  # partitions fetched at once (QLIR_FETCH_WORKERS)
    # Worker processes of a long ranged run (QLIR_FETCH_PROCESSES; 0: the run's process only).
    processes: int = 2

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Runs killed before this one (kill -9, a crash) still show as started; without a daemon
        # nothing else would ever mark them failed.
        if context.instance is not None:
            fail_dead_runs(context.instance, context.log)

    def spec(self, endpoint: Endpoint = Endpoint.KLINES) -> SourceSpec:
        """How to open the clients for one endpoint's candles, in the run or a worker process."""
        return SourceSpec(self.source, self.rest_url, self.archive_url, endpoint, self.budget_store)

    def sources(self, endpoint: Endpoint = Endpoint.KLINES) -> AbstractContextManager[Sources]:
        """The clients for one endpoint's candles (uiKlines: REST only, whatever `source`)."""
        return self.spec(endpoint).open()


class StorageResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The storage root: a local folder or `s3://bucket/prefix` (credentials from the AWS chain)."""

    root: str
    # Logging of the run's process (qlir_core.logs); log_dir None: <Dagster home>/logs, off: none.
    log_profile: logs.Profile = logs.Profile.QLIR_INFO
    log_dir: str | None = None
    log_split: logs.Split = logs.Split.NONE

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Here, not at load: only a run writes the log file, every record carries its run id,
        # and the levels are applied after Dagster's log manager has set up the run.
        run = context.run
        home = None if context.instance is None else context.instance.root_directory
        logs.configure(
            logs.LogSettings.of(self.log_profile, self.log_dir, self.log_split),
            home=home,
            run_id=None if run is None else run.run_id,
        )
        # A missing bucket, bad credentials or a dead endpoint fail the run here, in seconds,
        # before anything is downloaded.
        self.store().check()

    def store(self, endpoint: Endpoint = Endpoint.KLINES) -> Store:
        return Store(self.root, endpoint=endpoint)
