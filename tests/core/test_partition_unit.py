"""A partition is published as one unit, one publish at a time, and exchange corrections keep
the version they replace: kills between writes, racing processes, hand-made mixes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest

from qlir_core.intervals import DAY_MS
from qlir_core.publish import Reason, publish_partition
from qlir_core.storage import PartitionData, Store, table_bytes, write_atomic
from qlir_core.validation import Rule, validate_store
from tests.core.partition_parts import (
    BTC_1M,
    DAY,
    FETCHES,
    FULL,
    LOG,
    REMOVED_AT,
    REVISED_AT,
    SECOND,
)

LATER = SECOND + DAY_MS
# raw, raw, manifest, candles, corrections, commit: the writes of the correcting publish
WRITES = ["raw", "raw", "manifest", "candles", "corrections", "commit"]


def run(root: Path, name: str, *args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.core.partition_parts", str(root), name]
    return subprocess.run(
        [*command, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def whole(store: Store, part: PartitionData) -> bool:
    """True when every reader sees exactly `part`: candles, ledger, payloads."""
    candles = store.read_candles(BTC_1M, DAY)
    return (
        candles is not None
        and candles.equals(part.candles)
        and store.read_manifest(BTC_1M, DAY) == part.manifest
        and store.read_raw(BTC_1M, DAY) == sorted(part.raw, key=lambda p: p.name)
        and store.scan_candles(BTC_1M).equals(part.candles)
        and len(store.dataset("manifest").to_table()) == len(part.manifest)
    )


def parts_finding(store: Store) -> int:
    (report,) = validate_store(store, now_ms=LATER)
    found = report.finding(Rule.PARTS_AGREE)
    return 0 if found is None else found.count


@pytest.mark.parametrize("stop_after", range(1, len(WRITES) + 1), ids=lambda n: WRITES[n - 1])
def test_a_publish_killed_after_any_write_leaves_one_whole_version(tmp_path, stop_after):
    first, second = FETCHES["first"](), FETCHES["second"]()
    assert run(tmp_path, "first").returncode == 0
    killed = run(tmp_path, "second", stop_after)
    assert killed.returncode == 17, killed.stderr
    store = Store(str(tmp_path))
    committed = stop_after == len(WRITES)
    assert whole(store, second if committed else first)
    assert parts_finding(store) == 0
    versions = store.versions(BTC_1M, DAY)
    assert len(versions) == (2 if committed else 1)

    # the next publish of the partition cleans what the killed one left behind
    again = run(tmp_path, "second")
    assert again.returncode == 0, again.stderr
    assert whole(store, second)
    folders = tmp_path / "versions/symbol=BTCUSDT/interval=1m/date=2024-01-02"
    assert sorted(p.name for p in folders.iterdir()) == store.versions(BTC_1M, DAY)
    assert len(store.versions(BTC_1M, DAY)) == 2
    assert parts_finding(store) == 0


def test_a_mix_made_by_hand_is_an_error_of_the_checks(tmp_path):
    store = Store(str(tmp_path))
    log = logging.getLogger("tests")
    publish_partition(store, FETCHES["first"](), log=log)
    publish_partition(store, FETCHES["second"](), log=log)
    old, new = store.versions(BTC_1M, DAY)
    assert parts_finding(store) == 0

    # the previous version's ledger beside the current candles
    manifest = store.version_dir(BTC_1M, DAY, new) / "manifest.parquet"
    saved = manifest.read_bytes()
    manifest.write_bytes((store.version_dir(BTC_1M, DAY, old) / "manifest.parquet").read_bytes())
    assert parts_finding(store) == 1
    manifest.write_bytes(saved)

    # a payload of the previous version in the current one: it disagrees with the candles
    (payload, *_) = store.read_raw(BTC_1M, DAY, old)
    target = store.raw_dir(BTC_1M, DAY) / payload.name
    target.write_bytes(payload.data)
    (report,) = validate_store(store, now_ms=LATER)
    found = report.finding(Rule.PARTS_AGREE)
    assert found is not None
    assert found.count == 2
    checks = sorted(c.check for c in found.sample)
    assert checks == [
        "1 candle(s) of a payload differ from the stored ones",
        "a payload differs from the one published",
    ]
    assert not report.passed()
    assert Rule.PARTS_AGREE in {f.rule for f in report.errors}


def test_candles_of_another_version_under_the_current_stamp_are_an_error(tmp_path):
    store = Store(str(tmp_path))
    publish_partition(store, FETCHES["first"](), log=LOG)
    stamp = store.publish(FETCHES["second"]())
    write_atomic(store.candles_path(BTC_1M, DAY), table_bytes(FULL, stamp))
    (report,) = validate_store(store, now_ms=LATER)
    found = report.finding(Rule.PARTS_AGREE)
    assert found is not None
    assert "the candle table differs from its version's copy" in {c.check for c in found.sample}


def test_two_processes_refreshing_one_day_end_with_the_newer_fetch(tmp_path):
    """Two processes publish the same day at once (each write held 0.3 s, so the second waits
    on the lock): the newer fetch is stored whichever publishes first."""
    for order in (("second", "first"), ("first", "second")):
        root = tmp_path / "-".join(order)
        command = [sys.executable, "-m", "tests.core.partition_parts", str(root)]
        early = subprocess.Popen([*command, order[0], "-1", "0.3"], stdout=subprocess.PIPE)
        late = subprocess.Popen([*command, order[1], "-1", "0.3"], stdout=subprocess.PIPE)
        outs = [p.communicate(timeout=120)[0] for p in (early, late)]
        assert [p.returncode for p in (early, late)] == [0, 0]
        reasons = {json.loads(o)["reason"] for o in outs}
        store = Store(str(root))
        assert whole(store, FETCHES["second"]())
        assert len(store.read_candles(BTC_1M, DAY)) == 1439
        # whichever got the lock first: the older fetch never replaced the newer one
        assert reasons in ({"new", "stale"}, {"new", "corrected"})
        assert parts_finding(store) == 0


def test_a_correction_is_published_with_a_warning_and_the_old_version_kept(tmp_path, caplog):
    store = Store(str(tmp_path))
    first, second = FETCHES["first"](), FETCHES["second"]()
    assert publish_partition(store, first, log=LOG).reason is Reason.NEW
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        decision = publish_partition(store, second, log=LOG)
    assert (decision.publish, decision.reason) == (True, Reason.CORRECTED)
    assert (decision.missing, decision.changed) == (1, 1)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    revised = FULL.loc[REVISED_AT]
    close = float(revised["close"])
    assert f"2024-01-02T00:05 close {close!r} -> {close + 1.0!r}" in warning
    assert "2024-01-02T11:40 removed" in warning  # row 700
    assert FULL.loc[REMOVED_AT, "open_time"] == pd.Timestamp("2024-01-02T11:40", tz="UTC")

    old, new = store.versions(BTC_1M, DAY)
    assert store.stamp(BTC_1M, DAY).version == new
    assert store.read_candles(BTC_1M, DAY).equals(second.candles)
    assert store.read_candles(BTC_1M, DAY, old).equals(first.candles)
    assert store.read_manifest(BTC_1M, DAY, old) == first.manifest
    assert store.read_raw(BTC_1M, DAY, old) == sorted(first.raw, key=lambda p: p.name)

    # the corrections table, read without qlir
    table = ds.dataset(tmp_path / "corrections", format="parquet", partitioning="hive")
    rows = table.to_table().to_pandas().fillna({"field": "-"})
    assert rows[["change", "field", "old_version", "new_version"]].values.tolist() == [
        ["changed", "close", old, new],
        ["removed", "-", old, new],
    ]
    assert rows["open_time"].tolist() == list(FULL.loc[[REVISED_AT, REMOVED_AT], "open_time"])

    # a later growth without corrections keeps the corrected-from version too
    assert publish_partition(store, second, log=LOG).reason is Reason.UNCHANGED
    assert store.versions(BTC_1M, DAY) == [old, new]
