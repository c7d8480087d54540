"""kill -9 in the middle of a ranged backfill (`dagster asset materialize --partition-range`),
then the same command again: the klines tables equal those of a clean run, and a
reader polling the dataset throughout never met a half-written file."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import files_under
from tests.instance.conftest import days_range, environment, materialize

pytestmark = pytest.mark.slow

DAYS = 12
RANGE = days_range(DAYS)


def tables(root: Path) -> dict[str, pa.Table]:
    """The klines dataset's files (hidden staging names aside), by path below `root`, as tables
    without their file metadata (which names each file's version and fetch time)."""
    return {
        str(p.relative_to(root)): pq.read_table(p).replace_schema_metadata(None)
        for p in files_under(root / "klines")
        if not p.name.startswith(".")
    }


class Reader(threading.Thread):
    """Reads every klines file and the whole dataset, over and over, until told to stop."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root / "klines"
        self.reads = 0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                for path in files_under(self.root):
                    if not path.name.startswith("."):
                        pq.read_table(path)
                        self.reads += 1
                if self.root.exists():
                    ds.dataset(self.root, format="parquet", partitioning="hive").to_table()
            except FileNotFoundError:
                pass  # a folder listed a moment before it existed
            except Exception as e:  # any other failure is a reader meeting a broken file
                self.errors.append(f"{type(e).__name__}: {e}")
            time.sleep(0.05)


def test_kill_9_mid_backfill_then_again_is_the_clean_run(
    tmp_path: Path, slow_exchange: str
) -> None:
    env = environment(tmp_path, "killed", slow_exchange)
    root = Path(env["QLIR_DATA_ROOT"])
    reader = Reader(root)
    reader.start()
    clean_env = environment(tmp_path, "clean", slow_exchange)
    clean = materialize(clean_env, RANGE)  # beside it: parallel runs share the exchange's budget

    run = materialize(env, RANGE)
    deadline = time.monotonic() + 120
    while len(tables(root)) < 3:  # some days stored, most not
        assert run.poll() is None, run.stderr.read().decode()[-3000:] if run.stderr else ""
        assert time.monotonic() < deadline, "the backfill never stored a day"
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    assert run.wait(timeout=30) == -signal.SIGKILL
    stored_when_killed = len(tables(root))
    assert 3 <= stored_when_killed < DAYS

    again = materialize(env, RANGE)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-3000:]
    reader.stop.set()
    reader.join(timeout=10)
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err.decode()[-3000:]

    killed_then_again = tables(root)
    assert len(killed_then_again) == DAYS
    assert killed_then_again == tables(Path(clean_env["QLIR_DATA_ROOT"]))
    assert reader.reads > 0
    assert reader.errors == []
