"""On S3 (moto's server) a partition is one unit too: the same version keys as on a disk, a
publish stopped between two writes leaves the previous version whole, corrections keep the
replaced version, and the partition lock is an object created with `If-None-Match: *`."""

from __future__ import annotations

import logging

import pytest

from qlir_core import locks
from qlir_core.publish import Reason, publish_partition
from qlir_core.storage import Store
from qlir_core.validation import Rule, validate_store
from tests.core.partition_parts import BTC_1M, DAY, FETCHES, SECOND
from tests.storage.test_s3_store import local_files, s3_objects

PREFIX = "qlir/data"
LOG = logging.getLogger("tests.storage")
LATER = SECOND + 86_400_000


class Stop(Exception):
    """Raised between two writes of a publish."""


def test_a_correction_on_s3_gives_the_keys_of_a_disk_and_keeps_the_old_version(
    bucket, s3_client, tmp_path
):
    on_s3, local = Store(f"s3://{bucket}/{PREFIX}"), Store(str(tmp_path))
    for store in (on_s3, local):
        assert publish_partition(store, FETCHES["first"](), log=LOG).reason is Reason.NEW
        decision = publish_partition(store, FETCHES["second"](), log=LOG)
        assert decision.reason is Reason.CORRECTED
    objects = s3_objects(s3_client, bucket)
    on_disk = {k: v for k, v in local_files(tmp_path).items() if not k.startswith("locks/")}
    assert objects.keys() == on_disk.keys()  # no lock object left behind on S3
    assert [k for k in objects if k.startswith("corrections/")] == [
        k for k in on_disk if k.startswith("corrections/")
    ]
    old, _ = on_s3.versions(BTC_1M, DAY)
    assert on_s3.versions(BTC_1M, DAY) == local.versions(BTC_1M, DAY)
    assert on_s3.read_candles(BTC_1M, DAY, old).equals(FETCHES["first"]().candles)
    assert on_s3.read_candles(BTC_1M, DAY).equals(FETCHES["second"]().candles)
    assert on_s3.read_manifest(BTC_1M, DAY) == FETCHES["second"]().manifest
    assert len(on_s3.dataset("corrections").to_table()) == 2
    (report,) = validate_store(on_s3, now_ms=LATER)
    assert report.finding(Rule.PARTS_AGREE) is None


@pytest.mark.parametrize("stop_at", ["manifest", "candles", "corrections"])
def test_a_publish_stopped_on_s3_leaves_the_previous_version_whole(bucket, stop_at):
    store = Store(f"s3://{bucket}/{PREFIX}")
    first = FETCHES["first"]()
    publish_partition(store, first, log=LOG)

    def step(written: str) -> None:
        if written == stop_at:
            raise Stop

    with pytest.raises(Stop):
        publish_partition(store, FETCHES["second"](), log=LOG, step=step)
    assert store.read_candles(BTC_1M, DAY).equals(first.candles)
    assert store.read_manifest(BTC_1M, DAY) == first.manifest
    assert store.read_raw(BTC_1M, DAY) == sorted(first.raw, key=lambda p: p.name)
    assert len(store.versions(BTC_1M, DAY)) == 1
    (report,) = validate_store(store, now_ms=LATER)
    assert report.passed(), [f.message() for f in report.violations]
    # the lock was released, and the next publish removes the stopped one's files
    assert publish_partition(store, FETCHES["second"](), log=LOG).reason is Reason.CORRECTED
    folder = store.partition_dir("versions", BTC_1M, DAY)
    stored = sorted(p.rsplit("/", 1)[-1] for p in folder.fs.ls(folder.path, detail=False))
    assert stored == store.versions(BTC_1M, DAY)


def test_the_s3_lock_is_exclusive(bucket):
    store = Store(f"s3://{bucket}/{PREFIX}")
    store.check()
    path = store.lock_path(BTC_1M, DAY)
    with locks.held(path), pytest.raises(locks.StorageBusy), locks.held(path, wait_s=0.5):
        pass
    with locks.held(path, wait_s=0.5):  # released: free again
        assert path.fs.exists(path.path)
    assert not path.fs.exists(path.path)
