"""Runs whose process died: told apart from live ones, marked failed, their pool slots freed.

A run killed with -9 (or on a power cut) never reports its end: Dagster keeps it STARTED and its
`binance_api` pool slots stay claimed, so with the pool's limit of 2, two such kills block every
later run. Dagster's run monitoring (daemon) fails dead runs only when the run launcher can tell
a dead worker, which its default launcher cannot; `LocalRunLauncher` adds that for runs on this
machine. Without a daemon (runs from `dagster asset materialize` alone), every qlir run clears its
dead predecessors before it claims a slot (`fail_dead_runs`, called at resource setup).

A worker is the process that reported the run's start (its pid is on the RUN_START event); it is
dead when no process has that pid, or the one that has it started after the run did.
"""

from __future__ import annotations

import logging

import dagster as dg
import psutil
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher

STARTED = dg.DagsterRunStatus.STARTED
# A process created this long after the run's start event is not the run's worker (pid reuse).
_CLOCK_SLACK_S = 1.0


def worker_is_dead(instance: dg.DagsterInstance, run_id: str) -> bool:
    """True when the process that started run `run_id` on this machine is gone."""
    starts = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    if not starts or starts[-1].dagster_event is None or starts[-1].dagster_event.pid is None:
        return False  # not started yet, or nothing to tell by
    start = starts[-1]
    pid = start.dagster_event.pid  # type: ignore[union-attr]
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False
    return bool(created > start.timestamp + _CLOCK_SLACK_S)


def fail_dead_runs(instance: dg.DagsterInstance, log: logging.Logger | None = None) -> list[str]:
    """Mark every STARTED run whose worker died as failed and free its pool slots; their ids."""
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=[STARTED])):
        run = record.dagster_run
        if not worker_is_dead(instance, run.run_id):
            continue
        message = "the process running this run died (no such process); marked failed by qlir"
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        failed.append(run.run_id)
        if log is not None:
            log.warning(f"run {run.run_id}: {message}; its pool slots are freed")
    return failed


class LocalRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, able to tell run monitoring that a local worker died."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        instance = self._instance
        if instance is not None and worker_is_dead(instance, run.run_id):
            return CheckRunHealthResult(WorkerStatus.FAILED, "the run's process is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
