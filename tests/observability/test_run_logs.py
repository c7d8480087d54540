"""The JSON log file of real ranged runs (`dagster asset materialize`, the shipped dagster.yaml)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from qlir_core.series import Series
from qlir_core.storage import Store
from tests.observability.conftest import (
    FRESH,
    STALE,
    Observed,
    environment,
    instance_of,
    key_range,
    log_lines,
    materialize,
)

pytestmark = pytest.mark.slow
FIELDS = {"time", "level", "logger", "pid", "message", "run_id", "series", "day"}


def run_ids(env: dict[str, str]) -> set[str]:
    with instance_of(env) as instance:
        # the ranged materializations (other tests add runs of other jobs to this home)
        return {r.run_id for r in instance.get_runs() if r.job_name == "__ASSET_JOB"}


def stored(observed: Observed) -> list[tuple[str, date]]:
    store = Store(str(observed.data))
    return [(k, d) for k in (FRESH, STALE) for d in store.stored_days(Series.parse(k))]


def test_every_line_is_json_with_the_run_id_and_fields(observed):
    lines = log_lines(observed.logs)
    assert lines
    runs = run_ids(observed.env)
    assert len(runs) == 2
    for line in lines:
        assert set(line) >= FIELDS, line
        assert line["run_id"] in runs
        assert isinstance(line["pid"], int)
    assert {line["run_id"] for line in lines} == runs


def test_one_persist_event_per_stored_partition(observed):
    persists = [line for line in log_lines(observed.logs) if line.get("event") == "persist"]
    assert sorted((p["series"], date.fromisoformat(p["day"])) for p in persists) == sorted(
        stored(observed)
    )
    for p in persists:
        assert p["level"] == "DEBUG"
        assert p["published"] is True
        assert isinstance(p["duration_ms"], float)
        assert p["duration_ms"] > 0


def test_the_ledger_records_each_persist_duration(observed):
    store = Store(str(observed.data))
    for key, day in stored(observed):
        rows = store.read_manifest(Series.parse(key), day)
        assert rows
        assert len({r.persist_ms for r in rows}) == 1  # one persist per partition
        assert rows[0].persist_ms is not None
        assert rows[0].persist_ms > 0


def test_the_run_log_shows_qlirs_records(observed):
    """`qlir` is a managed logger: its records are in the run log too, not logged twice by hand."""
    with instance_of(observed.env) as instance:
        messages = [
            e.user_message
            for run in instance.get_runs()
            if run.job_name == "__ASSET_JOB"
            for e in instance.all_logs(run.run_id)
            if e.level == logging.DEBUG
        ]
    # Every persist is in the JSON file (test_one_persist_event_per_stored_partition). In the run log, the
    # records of the fetch workers' threads pass through Dagster's log capture, which has been
    # seen to drop one now and then; each one shown is a real persist, none shown twice.
    persisted = [m for m in messages if "persisted in" in m]
    assert 0 < len(persisted) <= len(stored(observed))
    assert len(set(persisted)) == len(persisted)


def test_one_request_event_per_ledger_row(observed):
    store = Store(str(observed.data))
    expected = sorted(
        (key, day.isoformat(), r.attempt)
        for key, day in stored(observed)
        for r in store.read_manifest(Series.parse(key), day) or []
    )
    requests = [line for line in log_lines(observed.logs) if line.get("event") == "request"]
    assert sorted((r["series"], r["day"], r["attempt"]) for r in requests) == expected
    for r in requests:
        assert {"source", "path", "status", "weight", "duration_ms"} <= set(r)


def test_prod_writes_no_info_from_qlir(market, tmp_path):
    env = environment(tmp_path, market, QLIR_LOG_PROFILE="prod")
    materialize(env, key_range(FRESH, market.start, market.start))
    quiet = [
        line
        for line in log_lines(tmp_path / "logs")
        if line["logger"].startswith("qlir") and line["level"] in ("DEBUG", "INFO")
    ]
    assert quiet == []
    assert Store(str(tmp_path / "data")).stored_days(Series.parse(FRESH)) == [market.start]


def test_a_split_run_writes_one_file_per_series(market, tmp_path):
    env = environment(tmp_path, market, QLIR_LOG_PROFILE="qlir-debug", QLIR_LOG_SPLIT="series")
    materialize(env, key_range(FRESH, market.start, market.start))
    lines = log_lines(tmp_path / "logs")
    assert (tmp_path / "logs" / f"qlir-{FRESH}.jsonl").exists()
    assert {line["series"] for line in lines if "event" in line} == {FRESH}
    assert [line.get("event") for line in lines].count("persist") == 1
