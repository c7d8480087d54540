"""The laptop instance's storage: Dagster's SQLite storage, with an event log that writes an
event in about a millisecond instead of tens.

Dagster's SQLite event log creates a new SQLAlchemy engine for every statement and disposes of
it after: each event then pays for compiling its SQL again (the compiled cache belongs to the
engine), for opening the file, and, since closing the last connection to a WAL database
checkpoints it, for an fsync; a commit at the default `synchronous=FULL` syncs once more. A ranged
run writes several events per partition, so this was most of a backfill's time. Here each
database (the index and the recently used run shards) keeps one engine with its connection pool,
so SQL is compiled once, connections stay open between events, and commits run at
`synchronous=NORMAL`: a commit is a write to the WAL, which SQLite checkpoints every 1000 pages.

A run's own events are written leaner still (a ranged run writes seven per partition): each
asset event and check evaluation is serialized once and its index rows are written in one
transaction, with statements compiled once, and a run's planned check rows share one serialized
event. Dagster serializes a check evaluation twice and writes its index rows in two transactions,
and builds each statement from the values anew. An asset's row is updated, and inserted only when
there is none (Dagster inserts it first and updates it when that fails), for every event.

A kept connection commits to the database's write-ahead log, which reaches the database file only
at a checkpoint. Dagster's SQLite event log tells a run's watchers (the UI's live run log) of new
events when that file changes, so here they poll instead, as on Dagster's Postgres storage.

What that trades: after a power loss (not a killed process) the last events may be missing; the
database is never corrupted. The candles themselves are committed by qlir's own storage, not
here. A team's instance uses Postgres instead (deploy/dagster.yaml).

Keep DAGSTER_HOME on a local disk: WAL needs memory shared between the processes.

dagster.yaml chooses it through the instance class, whose default storage it is, so it lives
in whichever home Dagster opens (DAGSTER_HOME, or the temporary one of `dagster dev`):

    instance_class:
      module: qlir_dagster.sqlite_storage
      class: LocalInstance
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import yaml
from dagster import DagsterInstance
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationPlanned,
)
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.event_api import EventHandlerFn
from dagster._core.events import ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.polling_event_watcher import SqlPollingEventWatcher
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from dagster._serdes import ConfigurableClassData, serialize_value
from sqlalchemy import and_, bindparam, create_engine, event
from sqlalchemy.engine import Connection, Engine

# Engines kept: the index and the few run databases written or read at a time.
KEPT_OPEN = 8

# A run's planned row of a check on one partition (None: an unpartitioned check), by the columns
# of Dagster's unique index on them (which a NULL partition escapes); the SET clause comes from the
# row's values.
_CHECKS = AssetCheckExecutionsTable.c
_PLANNED_ROW = and_(
    _CHECKS.asset_key == bindparam("of_asset_key"),
    _CHECKS.check_name == bindparam("of_check_name"),
    _CHECKS.run_id == bindparam("of_run_id"),
)
_EVALUATE = {
    False: AssetCheckExecutionsTable.update().where(
        _PLANNED_ROW, _CHECKS.partition == bindparam("of_partition")
    ),
    True: AssetCheckExecutionsTable.update().where(_PLANNED_ROW, _CHECKS.partition.is_(None)),
}
_UPDATE_ASSET = AssetKeyTable.update().where(AssetKeyTable.c.asset_key == bindparam("of_asset_key"))


class LocalInstance(DagsterInstance):
    """Dagster's instance, with LocalSqliteStorage for storage unless dagster.yaml names one."""

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        storage = ConfigurableClassData(
            __name__, LocalSqliteStorage.__name__, yaml.dump({"base_dir": base_dir})
        )
        return {**InstanceRef.config_defaults(base_dir), "storage": storage}


class LocalSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage (runs, schedules) with the event log below."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._event_log_storage = QuickCommitEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]
    ) -> LocalSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


class QuickCommitEventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run-sharded SQLite event log, with an engine kept per database (see the
    module docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        self._asset_key_index_cols = False
        self._watcher: SqlPollingEventWatcher | None = None
        super().__init__(base_dir, inst_data)

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before every asset-check event (a new engine each time); a table, once
        there, stays."""
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def store_event(self, event: EventLogEntry) -> None:
        """Dagster's, leaner for a run's asset events and check evaluations (see the module
        docstring): the event goes to the run's database, then to the index with what the index
        keeps of it, in one transaction."""
        kind = event.dagster_event_type
        evaluated = kind is DagsterEventType.ASSET_CHECK_EVALUATION
        if not event.run_id or not (
            kind in ASSET_EVENTS or (evaluated and self.supports_asset_checks)
        ):  # run-less events, other events, a database to migrate (Dagster's own tells)
            super().store_event(event)
            return
        row = self._event_to_row(event)
        with self.run_connection(event.run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), row)
        planned_rows = 1
        with self.index_connection() as conn:
            inserted = conn.execute(SqlEventLogStorageTable.insert(), row).inserted_primary_key
            if not inserted or inserted[0] is None:
                raise DagsterInvariantViolationError("Cannot store an event without its id.")
            if evaluated:
                planned_rows = _record_evaluation(conn, event, row, inserted[0])
            else:
                self._store_asset_event_tags(conn, [event], [inserted[0]])
                self._store_asset_event(conn, event, inserted[0])
        if planned_rows > 1:  # refused after the commit, as Dagster refuses it
            check = event.get_dagster_event().asset_check_evaluation_data.asset_check_key
            raise DagsterInvariantViolationError(
                f"{planned_rows} planned rows of {check} in run {event.run_id}: its planned "
                "event was stored twice"
            )

    def _store_asset_event(self, conn: Connection, event: EventLogEntry, event_id: int) -> None:
        """The asset's row, as Dagster 1.13 keeps it: updated, or inserted the first time."""
        dagster_event = event.get_dagster_event()
        if dagster_event.asset_key is None:
            return
        has_columns = self._has_asset_key_index_cols_on_connection(conn)
        values = self._get_asset_entry_values(event, event_id, has_columns)
        if not values:
            return
        asset = dagster_event.asset_key.to_string()
        if not conn.execute(_UPDATE_ASSET, values | {"of_asset_key": asset}).rowcount:
            conn.execute(AssetKeyTable.insert(), values | {"asset_key": asset})

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        """Dagster inspects the table's columns at every asset event; columns, once there,
        stay."""
        if not self._asset_key_index_cols:
            self._asset_key_index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._asset_key_index_cols

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """One planned row per partition of the check, as Dagster 1.13 writes them, with the
        event serialized once for all of them. Dagster serializes it again for every row, and
        the event carries the run's whole partition subset: a ranged run of n partitions paid
        for n² keys per check (6.7 s of a 5-year run's five checks)."""
        planned = event.get_dagster_event().event_specific_data
        assert isinstance(planned, AssetCheckEvaluationPlanned)
        subset = planned.partitions_subset
        shared = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),  # type: ignore[no-untyped-call]
            "evaluation_event_storage_id": event_id,
        }
        keys = subset.get_partition_keys() if subset else [None]
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(), [shared | {"partition": k} for k in keys]
            )

    # Dagster 1.13's `_connect`, on a kept engine instead of a new one.
    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            create_db_conn_string(self._base_dir, shard),
            pool_size=1,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _commit_without_sync)
        self._engines[shard] = engine
        while len(self._engines) > KEPT_OPEN:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    def watch(self, run_id: str, cursor: str | None, callback: EventHandlerFn) -> None:
        """Dagster's polling watcher, as its Postgres storage has (see the module docstring)."""
        if self._watcher is None:
            self._watcher = SqlPollingEventWatcher(self)
        self._watcher.watch_run(run_id, cursor, callback)

    def end_watch(self, run_id: str, handler: EventHandlerFn) -> None:
        if self._watcher is not None:
            self._watcher.unwatch_run(run_id, handler)

    def dispose(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        while self._engines:
            self._engines.popitem()[1].dispose()
        super().dispose()


def _record_evaluation(
    conn: Connection, event: EventLogEntry, row: Mapping[str, Any], event_id: int
) -> int:
    """The evaluation on its planned rows, as Dagster 1.13 records it, and how many there were:
    a row is inserted when there was no plan (an external step launcher's run)."""
    evaluation = event.get_dagster_event().event_specific_data
    assert isinstance(evaluation, AssetCheckEvaluation)
    target = evaluation.target_materialization_data
    passed = evaluation.passed
    status = (
        AssetCheckExecutionRecordStatus.SUCCEEDED
        if passed
        else AssetCheckExecutionRecordStatus.FAILED
    )
    values = {
        "execution_status": status.value,
        "evaluation_event": row["event"],
        "evaluation_event_timestamp": row["timestamp"],
        "evaluation_event_storage_id": event_id,
        "materialization_event_storage_id": None if target is None else target.storage_id,
        "partition": evaluation.partition,
    }
    key = {
        "asset_key": evaluation.asset_key.to_string(),
        "check_name": evaluation.check_name,
        "run_id": event.run_id,
    }
    of_row = {f"of_{k}": v for k, v in key.items()} | {"of_partition": evaluation.partition}
    updated: int = conn.execute(_EVALUATE[evaluation.partition is None], values | of_row).rowcount
    if updated == 0:
        conn.execute(AssetCheckExecutionsTable.insert(), values | key)
    return updated


def _commit_without_sync(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
