"""The laptop instance's event log (qlir_dagster.sqlite_storage) under what users do to it:
several processes writing at once, a reader beside them, and a writer killed mid-write; and
what it writes in its own way stored as Dagster's own storage stores it."""

import logging
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationPlanned,
)
from dagster._core.definitions.partitions.subset import DefaultPartitionsSubset
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from qlir_dagster import sqlite_storage
from qlir_dagster.sqlite_storage import LocalInstance, QuickCommitEventLogStorage
from tests.conftest import shipped_home

WRITER = """
import sys
import dagster as dg
home, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with dg.DagsterInstance.from_config(home) as instance:
    for i in range(count):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(dg.AssetKey(name), partition=str(i))
        )
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


def planned_check(run_id: str, keys: list[str] | None) -> EventLogEntry:
    """A run's planned evaluations of one check, for `keys` (None: an unpartitioned check)."""
    planned = AssetCheckEvaluationPlanned(
        asset_key=dg.AssetKey("klines"),
        check_name="completeness",
        partitions_subset=None if keys is None else DefaultPartitionsSubset(set(keys)),
    )
    event = DagsterEvent(
        DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value,
        job_name="__ASSET_JOB",
        event_specific_data=planned,
    )
    return EventLogEntry(
        error_info=None,
        level=logging.DEBUG,
        user_message="",
        run_id=run_id,
        timestamp=1_700_000_000.25,
        dagster_event=event,
    )


def check_rows(storage: SqliteEventLogStorage) -> list[dict[str, object]]:
    """The stored check executions, without what the database assigns (the row id, and the
    second it was written)."""
    with storage.index_connection() as conn:
        rows = conn.execute(sa.select(AssetCheckExecutionsTable)).mappings().all()
    assigned = {"id", "create_timestamp"}
    return sorted(({k: v for k, v in r.items() if k not in assigned} for r in rows), key=str)


def test_a_ranged_runs_planned_checks_are_stored_as_dagster_stores_them(tmp_path, monkeypatch):
    keys = [f"2024-01-{d:02}|BTCUSDT-1m" for d in range(1, 31)]
    events = [planned_check("run-1", keys), planned_check("run-2", keys[:1])]
    events.append(planned_check("run-3", None))
    serialized = []
    counted = sqlite_storage.serialize_value
    monkeypatch.setattr(
        sqlite_storage, "serialize_value", lambda v: serialized.append(v) or counted(v)
    )
    home = shipped_home(tmp_path / "home")
    dagsters = SqliteEventLogStorage(str(tmp_path / "dagsters"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        ours = instance.event_log_storage
        assert isinstance(ours, QuickCommitEventLogStorage)
        for storage in (ours, dagsters):
            for event in events:
                storage.store_event(event)
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
    dagsters.dispose()
