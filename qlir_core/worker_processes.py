"""A long range of partitions ingested in worker processes, beside the process that records it.

    ingest_in_processes(parts, spec, root, processes=…, workers=…) -> Iterator[Outcome]

Fetching, parsing, validating and publishing a partition is Python work, and so is recording
it (Dagster writes several events per partition): in one process the two take turns on one
interpreter lock. Here the partitions are dealt out to `processes` worker processes, each
running `pipeline.ingest_partitions` with its share of the `workers` threads, and the outcomes
come back to the caller as each is done, so the caller's recording overlaps the work.

The same guarantees as in one process: each partition is fetched, validated and published on
its own; after a refusal for a ban no worker starts another partition; the workers' qlir log
records are handled by the caller's loggers (the log file; what the pipeline tells its `log`,
the run log, goes to the caller's `log`). A worker stops taking partitions as soon as the
caller is gone (killed) or stops reading: the partitions in flight then, and outcomes not yet
read, are stored without being seen (a rerun of the range records them).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
import traceback
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from logging.handlers import QueueHandler
from multiprocessing.synchronize import Event
from typing import Any

from qlir_core import logs
from qlir_core.ingest import SourceSpec
from qlir_core.pipeline import Outcome, Refused, ingest_partitions
from qlir_core.series import Series
from qlir_core.storage import Store

# A worker sends ("outcome", pickled Outcome), ("log", LogRecord), ("run log", LogRecord), then
# ("done", its name) or ("failed", a traceback's text).
# Processes started fresh (spawn): a run's process has threads, which forking would copy mid-use.
_CONTEXT = multiprocessing.get_context("spawn")
LONG_RUN = 64  # partitions from which a run is worth worker processes
_POLL_S = 1.0  # how often the caller looks for a worker that died without a word
_WIND_DOWN_S = 60.0  # for the partitions in flight when the caller stops
_RUN_LOG = f"{logs.QLIR}.run_log"  # a worker's stand-in for the caller's `log`
_MAIN_HIDDEN = threading.Lock()  # held while workers start without the main script


def processes_for(partitions: int, most: int) -> int:
    """How many worker processes a run of `partitions` gets: `most` for a long one, none for a
    short one (starting them costs about a second of imports, and in the run's process the
    partitions start at once), none inside a daemonic process (a process pool's worker),
    which cannot start processes."""
    if multiprocessing.current_process().daemon or partitions < LONG_RUN:
        return 0
    return most


def ingest_in_processes(
    parts: Sequence[tuple[Series, date]],
    spec: SourceSpec,
    root: str,
    *,
    processes: int,
    workers: int,
    log: logging.Logger,
) -> Generator[Outcome]:
    """Each (series, day) through `ingest_partition` in one of `processes` worker processes
    (`workers` threads in all, at least one each), storing under `root`; yielded as each is
    done. What the pipeline tells `log` in a worker is told to `log` here, at its level."""
    shares = [list(parts[i::processes]) for i in range(min(processes, len(parts)))]
    threads = max(1, workers // max(1, len(shares)))
    messages = _CONTEXT.Queue()
    stop = _CONTEXT.Event()
    levels = (logging.getLogger(logs.QLIR).getEffectiveLevel(), log.getEffectiveLevel())
    started = [
        _CONTEXT.Process(
            target=_work,
            args=(share, spec, root, threads, levels, messages, stop, os.getpid()),
            name=f"qlir-ingest-{n}",
            daemon=True,
        )
        for n, share in enumerate(shares)
    ]
    try:
        with _main_script_not_imported():
            for process in started:
                process.start()
        yield from _collected(messages, started, stop, log)
    finally:
        stop.set()
        _wound_down(messages, started, log)


@contextmanager
def _main_script_not_imported() -> Iterator[None]:
    """Processes started meanwhile do not import the caller's main script. Spawn imports it in
    each new process, for targets defined there; the workers' target is this module's, and the
    main script of `dagster asset materialize` is Dagster's command line, about 0.8 s of
    imports per worker."""
    with _MAIN_HIDDEN:  # one at a time: overlapping saves would restore a hidden state
        main = sys.modules["__main__"]
        spec, path = getattr(main, "__spec__", None), main.__dict__.pop("__file__", None)
        main.__spec__ = None  # spawn imports the main module by this name when there is one
        try:
            yield
        finally:
            main.__spec__ = spec
            if path is not None:
                main.__file__ = path


def _collected(
    messages: Any, started: list[Any], stop: Event, log: logging.Logger
) -> Iterator[Outcome]:
    """The workers' outcomes as they come; their log records handled here meanwhile."""
    working = {p.name for p in started}
    while working:
        try:
            kind, body = messages.get(timeout=_POLL_S)
        except queue.Empty:
            dead = [p.name for p in started if p.name in working and p.exitcode is not None]
            if dead:
                raise RuntimeError(f"worker process {', '.join(dead)} died") from None
            continue
        if kind == "outcome":
            outcome: Outcome = pickle.loads(body)
            if isinstance(outcome, Refused) and outcome.banned:
                stop.set()  # the other workers start nothing more
            yield outcome
        elif kind == "done":
            working.discard(body)
        elif kind == "failed":
            raise RuntimeError(f"a worker process failed:\n{body}")
        else:
            _handle(kind, body, log)


def _handle(kind: str, record: logging.LogRecord, log: logging.Logger) -> None:
    if kind == "run log":
        log.log(record.levelno, record.getMessage())
    else:
        logging.getLogger(record.name).handle(record)


def _wound_down(messages: Any, started: list[Any], log: logging.Logger) -> None:
    """Wait for the workers to finish what they have in flight, reading what they still send
    (a worker exits only once its messages are read); log records are handled, outcomes no one
    asked for any more are dropped. Whatever goes wrong here, the workers are ended."""
    deadline = time.monotonic() + _WIND_DOWN_S
    try:
        while time.monotonic() < deadline:
            alive = any(p.is_alive() for p in started)
            try:
                kind, body = messages.get(timeout=0.1) if alive else messages.get_nowait()
            except queue.Empty:
                if alive:
                    continue
                break
            if kind in ("log", "run log"):
                _handle(kind, body, log)
    finally:
        for process in started:
            if process.is_alive():
                process.terminate()
            process.join()


class _Forward(QueueHandler):
    """A worker's qlir records, sent to the caller as messages (QueueHandler's `prepare` makes
    them picklable: the message formatted, no arguments or traceback objects)."""

    def __init__(self, messages: Any) -> None:
        super().__init__(messages)
        self.messages = messages

    def enqueue(self, record: logging.LogRecord) -> None:
        self.messages.put(("run log" if record.name == _RUN_LOG else "log", record))


def _work(
    share: list[tuple[Series, date]],
    spec: SourceSpec,
    root: str,
    threads: int,
    levels: tuple[int, int],
    messages: Any,
    stop: Event,
    caller: int,
) -> None:
    """A worker process: its share of the partitions, while the caller still wants them."""
    qlir = logging.getLogger(logs.QLIR)
    qlir.handlers[:] = [_Forward(messages)]
    qlir.propagate = False
    run_log = logging.getLogger(_RUN_LOG)
    qlir.setLevel(levels[0])
    run_log.setLevel(levels[1])
    orphaned = False

    def wanted() -> Iterator[tuple[Series, date]]:
        nonlocal orphaned
        for part in share:
            orphaned = os.getppid() != caller
            if stop.is_set() or orphaned:
                return
            yield part

    try:
        with spec.open() as sources:
            store = Store(root, endpoint=spec.endpoint)
            parts = ingest_partitions(wanted(), sources, store, workers=threads, log=run_log)
            for outcome in parts:
                # Pickled here, not in the queue's thread, so a failure is this worker's error.
                messages.put(("outcome", pickle.dumps(outcome)))
    except BaseException:
        messages.put(("failed", traceback.format_exc()))
    else:
        messages.put(("done", _CONTEXT.current_process().name))
    if orphaned:  # nobody reads the queue any more: exit without waiting to write to it
        messages.cancel_join_thread()
