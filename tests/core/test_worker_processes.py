"""`ingest_in_processes` against qlir-sim: what worker processes store is what one process
stores, a ban stops every worker, their log records reach the caller's loggers, errors come
back whole, and a killed caller leaves no worker taking partitions."""

import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import psutil
import pytest

from qlir_core import errors
from qlir_core.ingest import SourceMode, SourceSpec
from qlir_core.pipeline import Refused, Stored, ingest_partitions
from qlir_core.series import Series
from qlir_core.storage import Store
from qlir_core.worker_processes import LONG_RUN, ingest_in_processes, processes_for
from qlir_sim import Faults, Synthetic, serve
from qlir_sim.process import running
from tests.conftest import REPO

SERIES = [Series.parse("BTCUSDT-1m"), Series.parse("ETHUSDT-1m")]
FIRST = date(2024, 1, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(5)]
PARTS = [(s, d) for s in SERIES for d in DAYS]
LATER_MS = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
LOG = logging.getLogger("tests.worker_processes")


@pytest.fixture(autouse=True)
def private_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An environment variable, not a patch: the worker processes read it too.
    monkeypatch.setenv("QLIR_BUDGET_DIR", str(tmp_path / "budget"))


def market() -> Synthetic:
    return Synthetic(["BTCUSDT", "ETHUSDT"], ["1m"], FIRST, days=len(DAYS), seed=3)


def in_processes(url: str, root: Path, mode: SourceMode, **kwargs: int) -> list:
    spec = SourceSpec(mode, url, url)
    return list(ingest_in_processes(PARTS, spec, str(root), log=LOG, **kwargs))


@pytest.mark.parametrize("mode", [SourceMode.ARCHIVE, SourceMode.REST])
def test_worker_processes_store_what_one_process_stores(tmp_path, mode):
    with serve(market(), faults=Faults(latency_ms=20)) as url:
        outcomes = in_processes(url, tmp_path / "processes", mode, processes=2, workers=4)
        with SourceSpec(mode, url, url).open() as sources:
            alone = Store(str(tmp_path / "alone"))
            assert all(
                isinstance(o, Stored)
                for o in ingest_partitions(PARTS, sources, alone, workers=1, log=LOG)
            )
    assert sorted((o.series.key, o.day) for o in outcomes) == sorted((s.key, d) for s, d in PARTS)
    assert all(isinstance(o, Stored) and o.report.passed() for o in outcomes)
    stored = Store(str(tmp_path / "processes"))
    for series, day in PARTS:
        pd.testing.assert_frame_equal(
            stored.read_candles(series, day), alone.read_candles(series, day)
        )
        assert len(stored.read_manifest(series, day) or []) == len(
            alone.read_manifest(series, day) or []
        )


def test_a_ban_stops_every_worker(tmp_path):
    with serve(market(), faults=Faults(force_418=True, latency_ms=50)) as url:
        outcomes = in_processes(url, tmp_path / "data", SourceMode.REST, processes=2, workers=2)
    assert outcomes
    assert all(isinstance(o, Refused) for o in outcomes)
    assert any(o.banned for o in outcomes)
    assert isinstance(next(o for o in outcomes if o.banned).error, errors.IpBanned)
    # Only the partitions already running when the ban came ran at all: one per worker thread.
    assert len(outcomes) <= 2
    assert not any(Store(str(tmp_path / "data")).stored_days(s) for s in SERIES)


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_workers_log_records_reach_the_callers_loggers(tmp_path):
    run_log, qlir_log = Kept(), Kept()
    qlir = logging.getLogger("qlir")
    saved = qlir.level
    LOG.addHandler(run_log)
    qlir.addHandler(qlir_log)
    qlir.setLevel(logging.DEBUG)  # the workers log at the caller's levels
    corrupt = DAYS[2].isoformat()
    try:
        with serve(market(), faults=Faults(corrupt_zip=(corrupt,))) as url:
            outcomes = in_processes(url, tmp_path / "data", SourceMode.AUTO, processes=2, workers=2)
    finally:
        LOG.removeHandler(run_log)
        qlir.removeHandler(qlir_log)
        qlir.setLevel(saved)
    assert all(isinstance(o, Stored) for o in outcomes)
    # What the pipeline tells its log (the run log in Dagster) is told to the caller's log.
    fallbacks = [r for r in run_log.records if "unusable" in r.getMessage()]
    assert len(fallbacks) == len(SERIES)  # that day of each series, from whichever worker
    assert all(r.levelno == logging.WARNING and corrupt in r.getMessage() for r in fallbacks)
    # qlir's own records (the log file's) reach the caller's qlir loggers, with their fields.
    done = {(r.series, r.day) for r in qlir_log.records if getattr(r, "event", None) == "partition"}
    assert done == {(s.key, d.isoformat()) for s, d in PARTS}


@pytest.mark.parametrize("error", [
    errors.ServerError("HTTP 503", 503),
    errors.RateLimited("HTTP 429", retry_after=2.5),
    errors.IpBanned("HTTP 418", retry_after=60.0),
    errors.NotPublished("no zip for 2024-01-01"),
])  # fmt: skip
def test_an_error_comes_back_from_a_worker_whole(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert (again.args, vars(again)) == (error.args, vars(error))


def test_only_a_long_run_gets_worker_processes():
    assert processes_for(1, 2) == 0
    assert processes_for(LONG_RUN - 1, 2) == 0
    assert processes_for(LONG_RUN, 2) == 2
    assert processes_for(10 * LONG_RUN, 0) == 0


DRIVER = textwrap.dedent("""
    import logging
    import sys
    from datetime import date, timedelta
    from qlir_core.ingest import SourceMode, SourceSpec
    from qlir_core.series import Series
    from qlir_core.worker_processes import ingest_in_processes

    url, root, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
    parts = [(Series.parse("BTCUSDT-1m"), date(2024, 1, 1) + timedelta(days=i)) for i in range(days)]
    for outcome in ingest_in_processes(parts, SourceSpec(SourceMode.ARCHIVE, url, url), root,
                                       processes=2, workers=2, log=logging.getLogger("driver")):
        print(outcome.day, flush=True)
""")


def test_a_killed_caller_leaves_no_worker_taking_partitions(tmp_path):
    days = 40
    root = tmp_path / "data"
    store = Store(str(root))
    btc = SERIES[0]
    with running(
        "--synthetic", "--symbols", "BTCUSDT", "--start", FIRST.isoformat(),
        "--days", str(days), "--latency-ms", "100",
    ) as url:  # fmt: skip
        caller = subprocess.Popen(
            [sys.executable, "-c", DRIVER, url, str(root), str(days)],
            cwd=REPO, env=os.environ, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert caller.stdout is not None
        for _ in range(4):  # four partitions done: the workers are well under way
            assert caller.stdout.readline(), "the caller stopped before storing four days"
        workers = psutil.Process(caller.pid).children(recursive=True)
        assert len(workers) >= 2
        os.kill(caller.pid, signal.SIGKILL)  # the caller only: its workers are orphaned
        caller.wait(timeout=30)
        at_kill = len(store.stored_days(btc))
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert not alive, f"workers still running after their caller died: {alive}"
        stored = len(store.stored_days(btc))
        time.sleep(1)
        assert len(store.stored_days(btc)) == stored
    # What was in flight at the kill (a partition per worker thread) may have been finished.
    assert at_kill <= stored <= at_kill + 2
    assert stored < days


# A user's script with no `if __name__ == "__main__":` guard: were the workers to import it, as
# spawn imports a main script, each would start the range again in processes of its own.
UNGUARDED = textwrap.dedent("""
    import logging, sys
    from datetime import date, timedelta
    from qlir_core.ingest import SourceMode, SourceSpec
    from qlir_core.series import Series
    from qlir_core.worker_processes import ingest_in_processes

    url, root = sys.argv[1], sys.argv[2]
    parts = [(Series.parse("BTCUSDT-1m"), date(2024, 1, 1) + timedelta(days=i)) for i in range(5)]
    outcomes = ingest_in_processes(parts, SourceSpec(SourceMode.ARCHIVE, url, url), root,
                                   processes=2, workers=2, log=logging.getLogger("script"))
    print(sorted(o.day.isoformat() for o in outcomes))
""")


def test_a_script_without_a_main_guard_runs_a_range_in_worker_processes(tmp_path):
    script = tmp_path / "backfill.py"
    script.write_text(UNGUARDED)
    with serve(market()) as url:
        done = subprocess.run(
            [sys.executable, str(script), url, str(tmp_path / "data")],
            cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)}, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([day.isoformat() for day in DAYS])
    assert Store(str(tmp_path / "data")).stored_days(SERIES[0]) == DAYS
