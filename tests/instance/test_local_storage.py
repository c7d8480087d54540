"""The laptop instance's event log (qlir_dagster.sqlite_storage) under what users do to it:
several processes writing at once, a reader beside them, and a writer killed mid-write; and
what it writes in its own way (a run's planned checks and check evaluations) stored as Dagster's
own storage stores it."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationPlanned,
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.partitions.subset import DefaultPartitionsSubset
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.events import (
    AssetMaterializationPlannedData,
    AssetObservationData,
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from qlir_dagster import sqlite_storage
from qlir_dagster.sqlite_storage import LocalInstance, QuickCommitEventLogStorage
from tests.conftest import shipped_home
from tests.instance.conftest import days_range, environment, materialize

# A run's materializations of `name`, as a ranged run writes them (run `name`).
WRITER = """
import sys
import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
home, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with dg.DagsterInstance.from_config(home) as instance:
    for i in range(count):
        done = dg.AssetMaterialization(dg.AssetKey(name), partition=str(i))
        kind = DagsterEventType.ASSET_MATERIALIZATION.value
        event = DagsterEvent(kind, "writer", event_specific_data=StepMaterializationData(done))
        instance.report_dagster_event(event, run_id=name)
        print(i, flush=True)
"""


def writer(home: Path, name: str, count: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # the home is the arg
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), name, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def materialized(home: Path, name: str) -> set[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_materialized_partitions(dg.AssetKey(name))


def test_the_shipped_instance_uses_it(tmp_path):
    home = shipped_home(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance, LocalInstance)
        assert isinstance(instance.event_log_storage, QuickCommitEventLogStorage)
    assert (home / "history" / "runs" / "index.db").exists()  # in the home Dagster opened


def test_processes_writing_at_once_lose_nothing_and_a_reader_sees_it_all(tmp_path):
    home = shipped_home(tmp_path / "home")
    writers = [writer(home, f"asset_{n}", 150) for n in range(3)]
    seen_while_writing = materialized(home, "asset_0")  # a reader beside the writers
    for w in writers:
        assert w.wait(timeout=300) == 0
    assert seen_while_writing <= {str(i) for i in range(150)}
    for n in range(3):
        assert materialized(home, f"asset_{n}") == {str(i) for i in range(150)}


def test_a_writer_killed_mid_write_leaves_every_committed_event_readable(tmp_path):
    home = shipped_home(tmp_path / "home")
    w = writer(home, "killed", 100_000)
    assert w.stdout is not None
    lines = 0
    while lines < 50:
        assert w.stdout.readline(), "the writer stopped"
        lines += 1
    os.kill(w.pid, signal.SIGKILL)
    w.wait()
    # Printed after its commit: at least those 50 are there; the database opens and reads.
    stored = materialized(home, "killed")
    assert {str(i) for i in range(50)} <= stored
    # And the instance takes new events after the kill.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.report_runless_asset_event(dg.AssetMaterialization(dg.AssetKey("after")))
    assert materialized(home, "after") == set()  # unpartitioned: no partition keys
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_latest_materialization_event(dg.AssetKey("after")) is not None


def entry(run_id: str, kind: DagsterEventType, data: object) -> EventLogEntry:
    """A stored event of `kind` in run `run_id` ("": run-less)."""
    event = DagsterEvent(kind.value, job_name="__ASSET_JOB", event_specific_data=data)
    return EventLogEntry(
        error_info=None,
        level=logging.DEBUG,
        user_message="",
        run_id=run_id,
        timestamp=1_700_000_000.25,
        dagster_event=event,
    )


def planned_data(asset: dg.AssetKey, key: str | None) -> AssetMaterializationPlannedData:
    return AssetMaterializationPlannedData(asset, partition=key)


def planned_check(run_id: str, keys: list[str] | None) -> EventLogEntry:
    """A run's planned evaluations of one check, for `keys` (None: an unpartitioned check)."""
    planned = AssetCheckEvaluationPlanned(
        asset_key=dg.AssetKey("klines"),
        check_name="completeness",
        partitions_subset=None if keys is None else DefaultPartitionsSubset(set(keys)),
    )
    return entry(run_id, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, planned)


def evaluated_check(
    run_id: str, key: str | None, passed: bool, target: int | None = None
) -> EventLogEntry:
    """A run's evaluation of the check on partition `key`, of the materialization stored as
    event `target` (None: none given)."""
    evaluation = AssetCheckEvaluation(
        asset_key=dg.AssetKey("klines"),
        check_name="completeness",
        passed=passed,
        partition=key,
        severity=dg.AssetCheckSeverity.WARN,
        target_materialization_data=None
        if target is None
        else AssetCheckEvaluationTargetMaterializationData(
            storage_id=target, run_id=run_id, timestamp=1_700_000_000.0
        ),
    )
    return entry(run_id, DagsterEventType.ASSET_CHECK_EVALUATION, evaluation)


def check_rows(storage: SqliteEventLogStorage) -> list[dict[str, object]]:
    """The stored check executions, without what the database assigns (the row id, and the
    second it was written)."""
    with storage.index_connection() as conn:
        rows = conn.execute(sa.select(AssetCheckExecutionsTable)).mappings().all()
    assigned = {"id", "create_timestamp"}
    return sorted(({k: v for k, v in r.items() if k not in assigned} for r in rows), key=str)


@contextmanager
def beside_dagsters(tmp_path: Path) -> Iterator[tuple[dg.DagsterInstance, SqliteEventLogStorage]]:
    """An instance on the shipped dagster.yaml (home `tmp_path/home`), and Dagster's own SQLite
    event log beside it (in `tmp_path/dagsters`)."""
    dagsters = SqliteEventLogStorage(str(tmp_path / "dagsters"))
    with dg.DagsterInstance.from_config(str(shipped_home(tmp_path / "home"))) as instance:
        assert isinstance(instance.event_log_storage, QuickCommitEventLogStorage)
        yield instance, dagsters
    dagsters.dispose()


def store(storage: SqliteEventLogStorage, events: Iterable[EventLogEntry]) -> None:
    for event in events:
        storage.store_event(event)


def test_a_ranged_runs_planned_checks_are_stored_as_dagster_stores_them(tmp_path, monkeypatch):
    keys = [f"2024-01-{d:02}|BTCUSDT-1m" for d in range(1, 31)]
    events = [planned_check("run-1", keys), planned_check("run-2", keys[:1])]
    events.append(planned_check("run-3", None))
    serialized = []
    counted = sqlite_storage.serialize_value
    monkeypatch.setattr(
        sqlite_storage, "serialize_value", lambda v: serialized.append(v) or counted(v)
    )
    with beside_dagsters(tmp_path) as (instance, dagsters):
        ours = instance.event_log_storage
        for storage in (ours, dagsters):
            store(storage, events)
        stored = check_rows(ours)
        assert len(serialized) == len(events)  # ours wrote them: once per event, not per row
        assert len(stored) == 32
        assert {r["partition"] for r in stored if r["run_id"] == "run-1"} == set(keys)
        assert [r["partition"] for r in stored if r["run_id"] == "run-3"] == [None]
        assert {r["evaluation_event_timestamp"] for r in stored} == {
            datetime(2023, 11, 14, 22, 13, 20, 250000)  # UTC, without a zone
        }
        assert stored == check_rows(dagsters)
        # and Dagster reads them back as planned, per partition
        check = dg.AssetCheckKey(dg.AssetKey("klines"), "completeness")
        first_day = PartitionKeyFilter(key=keys[0])
        history = ours.get_asset_check_execution_history(
            check, limit=100, partition_filter=first_day
        )
        assert [(r.run_id, r.status.value) for r in history] == [
            ("run-2", "PLANNED"),
            ("run-1", "PLANNED"),
        ]


def test_a_runs_check_evaluations_are_stored_as_dagster_stores_them(tmp_path, monkeypatch):
    keys = [f"2024-01-{d:02}|BTCUSDT-1m" for d in range(1, 4)]
    events = [
        planned_check("run-1", keys),
        evaluated_check("run-1", keys[0], passed=True, target=7),
        evaluated_check("run-1", keys[1], passed=False),
        evaluated_check("run-1", keys[2], passed=False, target=9),
        evaluated_check("run-1", keys[2], passed=True, target=9),  # again: the same row
        evaluated_check("run-2", keys[0], passed=True),  # not planned: a row of its own
        planned_check("run-3", None),
        evaluated_check("run-3", None, passed=False),  # an unpartitioned check
        evaluated_check("", keys[1], passed=True),  # run-less (reported): Dagster's own path
    ]
    recorded = []
    record = sqlite_storage._record_evaluation
    monkeypatch.setattr(
        sqlite_storage, "_record_evaluation", lambda *a: recorded.append(a) or record(*a)
    )
    with beside_dagsters(tmp_path) as (instance, dagsters):
        ours = instance.event_log_storage
        for storage in (ours, dagsters):
            store(storage, events)
        assert len(recorded) == 6  # ours recorded every run's evaluation
        assert check_rows(ours) == check_rows(dagsters)
        assert tables(tmp_path / "home" / "history" / "runs") == tables(tmp_path / "dagsters")

        def statuses(key: str | None) -> list[tuple[str, str]]:
            history = ours.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey("klines"), "completeness"),
                limit=10,
                partition_filter=PartitionKeyFilter(key=key),
            )
            return [(r.run_id, r.status.value) for r in history]

        assert statuses(keys[0]) == [("run-2", "SUCCEEDED"), ("run-1", "SUCCEEDED")]
        assert statuses(keys[1]) == [("", "SUCCEEDED"), ("run-1", "FAILED")]
        assert statuses(keys[2]) == [("run-1", "SUCCEEDED")]
        assert statuses(None) == [("run-3", "FAILED")]
        latest = ours.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("klines"), "completeness"),
            limit=1,
            partition_filter=PartitionKeyFilter(key=keys[0]),
        )[0]
        assert latest.event == events[5]  # the stored evaluation event reads back


def test_a_runs_asset_events_are_stored_as_dagster_stores_them(tmp_path, monkeypatch):
    klines, day = dg.AssetKey("klines"), "2024-01-01|BTCUSDT-1m"
    tags = {"dagster/data_version": "v1", "other": "x"}  # Dagster indexes the first

    def materialized(run_id: str, rows: int) -> EventLogEntry:
        done = dg.AssetMaterialization(klines, partition=day, metadata={"rows": rows}, tags=tags)
        return entry(run_id, DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(done))

    events = [
        entry("run-1", DagsterEventType.ASSET_MATERIALIZATION_PLANNED, planned_data(klines, day)),
        materialized("run-1", 1440),
        materialized("run-1", 1439),
        entry(
            "run-1",
            DagsterEventType.ASSET_OBSERVATION,
            AssetObservationData(dg.AssetObservation(klines, partition=day)),
        ),
        materialized("", 1438),  # run-less (reported): Dagster's own path
        entry(
            "run-2",
            DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
            planned_data(dg.AssetKey("other"), None),
        ),
    ]
    left_to_dagster = []  # the events ours handed to Dagster's own store_event
    dagsters_own = SqliteEventLogStorage.store_event

    def spied(storage: SqliteEventLogStorage, event: EventLogEntry) -> None:
        if isinstance(storage, QuickCommitEventLogStorage):
            left_to_dagster.append(event)
        dagsters_own(storage, event)

    monkeypatch.setattr(SqliteEventLogStorage, "store_event", spied)
    with beside_dagsters(tmp_path) as (instance, dagsters):
        for storage in (instance.event_log_storage, dagsters):
            store(storage, events)
        assert left_to_dagster == [events[4]]  # ours wrote every run's own
        assert tables(tmp_path / "home" / "history" / "runs") == tables(tmp_path / "dagsters")
        latest = instance.get_latest_materialization_event(klines)
        assert latest is not None
        assert latest.asset_materialization is not None
        assert latest.asset_materialization.metadata["rows"] == dg.IntMetadataValue(1438)
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(klines, asset_partitions=[day]), limit=1
        ).records
        assert record.event_log_entry == events[4]
    assert len(tables(tmp_path / "dagsters")["index.db", "asset_event_tags"]) == 3


def test_evaluating_a_check_planned_twice_is_refused_as_dagster_refuses_it(tmp_path):
    # The unique index does not hold for an unpartitioned check (its partition is NULL).
    events = [planned_check("run-1", None), planned_check("run-1", None)]
    with beside_dagsters(tmp_path) as (instance, dagsters):
        for storage in (instance.event_log_storage, dagsters):
            store(storage, events)
            with pytest.raises(DagsterInvariantViolationError):
                storage.store_event(evaluated_check("run-1", None, passed=True))
        # and what was stored before the refusal is the same
        assert tables(tmp_path / "home" / "history" / "runs") == tables(tmp_path / "dagsters")


def test_a_run_log_watcher_sees_each_event_as_it_is_written(tmp_path):
    """The UI's live run log: a watcher on the instance sees an event written by another
    process's instance (here: another instance of the same home) before the next is written."""
    home = shipped_home(tmp_path / "home")
    seen: list[EventLogEntry] = []
    with (
        dg.DagsterInstance.from_config(str(home)) as ui,
        dg.DagsterInstance.from_config(str(home)) as run,
    ):
        run.event_log_storage.store_event(planned_check("run-1", ["a"]))  # the run's database
        ui.watch_event_logs("run-1", None, lambda event, _cursor: seen.append(event))
        for n, key in enumerate("abcde", start=1):
            run.event_log_storage.store_event(evaluated_check("run-1", key, passed=True))
            deadline = time.monotonic() + 30
            while len(seen) < n + 1:
                assert time.monotonic() < deadline, f"the watcher saw {len(seen)} of {n + 1}"
                time.sleep(0.05)
        assert [e.dagster_event_type for e in seen] == [
            DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
            *[DagsterEventType.ASSET_CHECK_EVALUATION] * 5,
        ]


@pytest.mark.slow
def test_a_ranged_cli_runs_event_log_is_what_dagsters_storage_writes(tmp_path, slow_exchange):
    env = environment(tmp_path, "ours", slow_exchange)
    run = materialize(env, days_range(3))
    assert run.wait(timeout=300) == 0, run.stderr.read().decode()[-3000:] if run.stderr else ""
    home = Path(env["DAGSTER_HOME"])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records()
        events = instance.all_logs(record.dagster_run.run_id)
    evaluations = [
        e for e in events if e.dagster_event_type is DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert len(evaluations) == 3 * 5  # every day's five checks
    dagsters = SqliteEventLogStorage(str(tmp_path / "dagsters"))
    store(dagsters, events)
    dagsters.dispose()
    assert tables(home / "history" / "runs") == tables(tmp_path / "dagsters")


def tables(event_logs: Path) -> dict[tuple[str, str], list[tuple[object, ...]]]:
    """Every row of every table of an event log's databases (the index and the run shards),
    without the wall-clock seconds SQLite and the migrations fill in, and without the check rows'
    ids: a run plans its partitions in set order, which varies between processes."""
    left_out = {"create_timestamp", "updated_timestamp", "migration_completed"}
    rows = {}
    for path in sorted(event_logs.glob("*.db")):
        with sqlite3.connect(path) as db:
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
                ids = {"id"} if table == AssetCheckExecutionsTable.name else set()
                kept = ", ".join(f'"{c}"' for c in columns if c not in left_out | ids)
                found = db.execute(f"SELECT {kept} FROM {table}").fetchall()
                rows[path.name, table] = sorted(found, key=repr)
    return rows
