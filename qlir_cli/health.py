"""`qlir health`: exit 0 when every series is fresh (qlir_core.freshness) and the last finished
run of each Dagster job succeeded; otherwise one line per problem and exit 1. For cron and
container probes."""

from __future__ import annotations

import os
import time

import click
import dagster as dg

from qlir_cli import settings
from qlir_core import freshness
from qlir_core.storage import Store

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
RECENT_RUNS = 1000  # the jobs judged are those among the latest finished runs


@click.command()
@click.option("--no-runs", is_flag=True, help="judge the store only, not Dagster's runs")
def health(no_runs: bool) -> None:
    """Exit 0 when every series is fresh and each job's last run succeeded."""
    loaded = settings.load()
    now_ms = int(time.time() * 1000)
    found = freshness.all_problems(
        Store(loaded.data_root), loaded.series, now_ms, loaded.start_date
    )
    problems = [line for lines in found.values() for line in lines]
    if not no_runs:
        problems += _run_problems()
    for line in problems:
        click.echo(line)
    if problems:
        raise click.exceptions.Exit(1)
    click.echo(
        f"ok: {len(loaded.series)} series fresh" + ("" if no_runs else ", last runs succeeded")
    )


def _run_problems() -> list[str]:
    """One line per job whose last finished run did not succeed."""
    if not os.environ.get("DAGSTER_HOME", "").strip():
        return ["DAGSTER_HOME is not set: the runs cannot be judged (or pass --no-runs)"]
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=FINISHED), limit=RECENT_RUNS)
    latest: dict[str, dg.DagsterRun] = {}
    for run in runs:  # newest first
        latest.setdefault(run.job_name, run)
    return [
        f"job {name}: the last run ({run.run_id[:8]}) ended {run.status.name.lower()}"
        for name, run in sorted(latest.items())
        if run.status is not dg.DagsterRunStatus.SUCCESS
    ]
