"""One writer per partition across processes, around read-decide-publish.

On a local disk the lock is a `filelock` file under the root. On S3 it is an object created
with a conditional write (`If-None-Match: *`, honoured by S3 since August 2024 and by moto's
server): only one creator succeeds, the others wait. A lock object older than `STALE_S` was left
by a killed process and is broken. Other object stores get no cross-process lock.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filelock import FileLock, Timeout
from upath import UPath

from qlir_core import s3
from qlir_core.errors import TemporaryError

WAIT_S = 600.0  # how long a publish waits for another one of the same partition
STALE_S = 900.0  # a held lock older than this was left behind by a killed process
_POLL_S = 0.2


class StorageBusy(TemporaryError):
    """Another publish of the same partition held its lock for the whole wait."""


@contextmanager
def held(path: UPath, *, wait_s: float = WAIT_S) -> Iterator[None]:
    """Hold the lock object `path` (`….lock`) while the block runs."""
    fs = path.fs
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    if {"file", "local"} & set(protocols):
        fs.makedirs(path.parent.path, exist_ok=True)
        try:
            with FileLock(path.path, timeout=wait_s):
                yield
        except Timeout as e:
            raise StorageBusy(f"{path} is held by another publish for over {wait_s:.0f} s") from e
        return
    if not s3.is_s3(fs.protocol):
        yield
        return
    _acquire_object(fs, path, wait_s)
    try:
        yield
    finally:
        fs.rm_file(path.path)


def _acquire_object(fs: Any, path: UPath, wait_s: float) -> None:
    bucket, _, key = path.path.partition("/")
    owner = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()})
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fs.call_s3("put_object", Bucket=bucket, Key=key, Body=owner.encode(), IfNoneMatch="*")
            return
        except FileExistsError:  # s3fs's translation of 412 PreconditionFailed
            pass
        _break_if_stale(fs, path)
        if time.monotonic() > deadline:
            raise StorageBusy(f"{path} is held by another publish for over {wait_s:.0f} s")
        time.sleep(_POLL_S)


def _break_if_stale(fs: Any, path: UPath) -> None:
    try:
        info = fs.info(path.path, refresh=True)
    except FileNotFoundError:
        return
    modified = info.get("LastModified")
    if modified is not None and time.time() - modified.timestamp() > STALE_S:
        fs.rm_file(path.path)
