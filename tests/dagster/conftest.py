"""Helpers to build the code location for a test and run it in process."""

from collections.abc import Callable, Iterator
from contextlib import nullcontext

import dagster as dg
import pytest

from qlir_dagster import config
from qlir_dagster.definitions import build_defs
from tests.conftest import shipped_instance


@pytest.fixture
def make_defs(tmp_path) -> Callable[..., dg.Definitions]:
    """Definitions for the given QLIR_* settings, storing under a temporary folder."""

    def make(**env: str) -> dg.Definitions:
        values = {"QLIR_DATA_ROOT": str(tmp_path / "data"), "QLIR_CONFIG": "/dev/null"} | env
        return build_defs(config.load(values))

    return make


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """A new home's instance on the shipped dagster.yaml."""
    with shipped_instance() as instance:
        yield instance


def run_range(defs: dg.Definitions, first: str, last: str) -> dg.ExecuteInProcessResult:
    """One ranged run of the asset job, as `--partition-range first...last` launches it."""
    job = defs.resolve_job_def("klines_job")
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    with shipped_instance() as instance:
        return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def run_one(
    defs: dg.Definitions, key: str, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("klines_job")
    with nullcontext(instance) if instance is not None else shipped_instance() as on:
        return job.execute_in_process(instance=on, partition_key=key, raise_on_error=False)


def run_log(instance: dg.DagsterInstance, run_id: str, level: int) -> list[str]:
    """The messages the run logged at `level`, as the UI's run log shows them."""
    return [e.user_message for e in instance.all_logs(run_id) if e.level == level]
