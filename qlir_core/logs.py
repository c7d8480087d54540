"""Logging: profiles, the JSON-lines log file, the record context, and secret redaction.

qlir logs through the standard `logging` module, on loggers named `qlir.<module>`:
`logs.logger(__name__)` in `qlir_core.publish` is `qlir.publish`. `configure` sets the levels
of the root and `qlir` loggers from a `Profile` and writes every record that passes them, one
JSON object per line, to `<log dir>/qlir.jsonl` (rotated), or with `Split.SERIES` to one file
per series (`qlir-BTCUSDT-1m.jsonl`, records without a series in `qlir.jsonl`). Dagster shows
the same records in its run log when `qlir` is one of its managed loggers (dagster.yaml), so
nothing is logged twice by hand.

The record contract. Every line has `time` (UTC, ISO 8601), `level`, `logger`, `pid`,
`message`, and from the context (`bound`, `set_defaults`) `run_id`, `series`, `day` unless the
record's `extra` already gives them. Timed work adds, through `extra`:

    event        "request" | "validate" | "persist" | "partition"
    series       "BTCUSDT-1m"                  day      "2024-01-01"
    duration_ms  float, wall time of the work
    request only: source "rest" | "archive", path "/api/v3/klines" (the URL path, no query),
                  status int (HTTP status; 0 when no answer came), attempt int (1 first),
                  weight int (the used-weight header, when sent), bytes int (body size)

    log.debug("GET %s -> %d", path, status, extra={"event": "request", "series": "BTCUSDT-1m",
              "day": "2024-01-01", "duration_ms": 41.7, "source": "rest",
              "path": "/api/v3/klines", "status": 200, "attempt": 1, "weight": 2, "bytes": 81234})

Per-request and per-partition records are DEBUG: in a Dagster run every record the run log
takes is an event-log write (~15 ms on SQLite), and under `qlir-info` the run log takes INFO
and above. Warnings and one-line run summaries are INFO or above.

No secret reaches the file: URL user-info and the values of query keys such as `signature`
or `apiKey` are replaced by `***` in every string field (`redact`).
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

QLIR = "qlir"
FILE = "qlir.jsonl"
MAX_BYTES = 50 * 1024 * 1024
BACKUPS = 5
CONTEXT_FIELDS = ("run_id", "series", "day")


class Profile(Enum):
    """Which records pass: (root level, `qlir` level)."""

    PROD = "prod"
    ALL_INFO = "all-info"
    ALL_DEBUG = "all-debug"
    QLIR_INFO = "qlir-info"
    QLIR_DEBUG = "qlir-debug"

    @property
    def levels(self) -> tuple[int, int]:
        return _LEVELS[self]

    @classmethod
    def parse(cls, text: str) -> Profile:
        """`qlir-debug` (any case) → the member; ValueError naming the valid profiles."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise ValueError(f"expected one of {names}") from None


_LEVELS = {
    Profile.PROD: (logging.WARNING, logging.WARNING),
    Profile.ALL_INFO: (logging.INFO, logging.INFO),
    Profile.ALL_DEBUG: (logging.DEBUG, logging.DEBUG),
    Profile.QLIR_INFO: (logging.WARNING, logging.INFO),
    Profile.QLIR_DEBUG: (logging.WARNING, logging.DEBUG),
}


class Split(Enum):
    """One log file, or one per series."""

    NONE = "none"
    SERIES = "series"

    @classmethod
    def parse(cls, text: str) -> Split:
        try:
            return cls(text.strip().lower() or "none")
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"expected one of {names}") from None


OFF = "off"  # as the log folder: no log file (the levels still apply)


@dataclass(frozen=True)
class LogSettings:
    profile: Profile = Profile.QLIR_INFO
    directory: Path | None = None  # None: `default_dir()`
    split: Split = Split.NONE
    file: bool = True

    @classmethod
    def of(cls, profile: Profile, folder: str | None, split: Split) -> LogSettings:
        """From the settings' spelling: `folder` None or blank is the default, `off` none."""
        text = (folder or "").strip()
        if text.lower() == OFF:
            return cls(profile, None, split, file=False)
        return cls(profile, Path(text).expanduser() if text else None, split)


def default_dir(env: Mapping[str, str] | None = None, home: str | None = None) -> Path:
    """`<home>/logs` for a Dagster home (given, or DAGSTER_HOME), else `./logs`."""
    env = os.environ if env is None else env
    home = home or env.get("DAGSTER_HOME", "").strip()
    return (Path(home) / "logs") if home else Path("logs").absolute()


def logger(module: str) -> logging.Logger:
    """The logger of a qlir module: `qlir_core.sources.rest` → `qlir.sources.rest`."""
    return logging.getLogger(f"{QLIR}.{module.removeprefix('qlir_core.')}")


# -- the context ---------------------------------------------------------------------------
_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "qlir_log_context", default=_EMPTY
)
_defaults: dict[str, str] = {}  # process-wide (a run's id): seen by every thread


def set_defaults(**fields: str | None) -> None:
    """Fields every record of this process carries (the Dagster run id of a run worker)."""
    for name, value in fields.items():
        if value is None:
            _defaults.pop(name, None)
        else:
            _defaults[name] = value


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Records logged inside carry these fields (`series=`, `day=`, `run_id=`). A context
    variable: a thread pool's workers see it only when run in a copied context
    (`contextvars.copy_context().run`), so pass `extra` there, or bind inside the worker."""
    values = {k: v for k, v in fields.items() if v is not None}
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, str]:
    """The fields a record logged here would get from the context."""
    return {**_defaults, **_context.get()}


class ContextFilter(logging.Filter):
    """Adds run_id, series and day from the context unless the record's `extra` has them."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        return True


# -- redaction -----------------------------------------------------------------------------
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@?#]+@")
_SECRET_KEYS = (
    "signature|apikey|api_key|api-key|secret|secretkey|secret_key|token|password|passwd|"
    "x-amz-signature|x-amz-credential|x-amz-security-token|aws_secret_access_key|"
    "aws_session_token|x-mbx-apikey"
)
_QUERY_SECRET = re.compile(rf"(?i)(?P<key>[?&;\s]?(?:{_SECRET_KEYS})[=:]\s*)[^&\s#'\",;]+")


# Every secret key above contains one of these: a cheap test before the regular expression.
_HINT = re.compile("key|secret|signature|token|pass|credential", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with URL user-info and secret query values replaced by `***`:
    `https://u:p@h/x?apiKey=k&a=1` → `https://***@h/x?apiKey=***&a=1`."""
    if "@" in text:
        text = _USERINFO.sub(r"\g<scheme>***@", text)
    if _HINT.search(text):
        text = _QUERY_SECRET.sub(r"\g<key>***", text)
    return text


# -- the file ------------------------------------------------------------------------------
_RENAMED = {"levelname": "level", "name": "logger", "process": "pid"}


class Formatter(JsonFormatter):
    """One JSON object per record: the contract's fields, every string redacted."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "process", "message"], rename_fields=_RENAMED, timestamp=False
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        super().add_fields(log_data, record, message_dict)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {k: redact(v) if isinstance(v, str) else v for k, v in log_data.items()}


class _File(RotatingFileHandler):
    """A rotated JSON-lines file that several processes may append to: when another process
    has rotated it, the next record reopens the path instead of writing to the moved file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        self.setFormatter(Formatter())

    def emit(self, record: logging.LogRecord) -> None:
        # One stat per record decides both: moved by another process, or due for rotation.
        # (The base class would format each record a second time to measure it.)
        try:
            if self.stream is None or self.stream.closed:
                self.stream = self._open()
            try:
                on_disk: os.stat_result | None = os.stat(self.baseFilename)  # noqa: PTH116
            except FileNotFoundError:
                on_disk = None
            if on_disk is None or on_disk.st_ino != os.fstat(self.stream.fileno()).st_ino:
                self.stream.close()
                self.stream = self._open()
            elif on_disk.st_size >= self.maxBytes:
                self.doRollover()
            logging.FileHandler.emit(self, record)
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        # A stream closed behind the handler's back (its folder gone, a test's cleanup) is
        # simply dropped: flushing it would raise.
        if self.stream is not None and self.stream.closed:
            self.stream = None
        super().close()


class _Sink(logging.Handler):
    """Where configured records go: one file, or one per series. Attached to the `qlir`
    logger (first, so it sees a record before Dagster's handler rewrites its message) and to
    the root logger (other libraries' records); a qlir record reaches both, and is written once."""

    def __init__(self, directory: Path, split: Split) -> None:
        super().__init__()
        self.directory = directory
        self.split = split
        self.addFilter(ContextFilter())
        self._files: dict[str, _File] = {}
        self._seen: weakref.WeakSet[logging.LogRecord] = weakref.WeakSet()

    def handle(self, record: logging.LogRecord) -> bool:
        if record in self._seen:
            return False
        self._seen.add(record)
        return bool(super().handle(record))

    def emit(self, record: logging.LogRecord) -> None:
        series = getattr(record, "series", None) if self.split is Split.SERIES else None
        name = f"qlir-{series}.jsonl" if series else FILE
        target = self._files.get(name)
        if target is None:
            target = self._files[name] = _File(self.directory / name)
        target.handle(record)

    def close(self) -> None:
        for target in self._files.values():
            target.close()
        self._files.clear()
        super().close()


_sink: _Sink | None = None


def configure(settings: LogSettings, *, home: str | None = None, run_id: str | None = None) -> Path:
    """Apply `settings` in this process: levels, and the log file under `settings.directory`
    (None: `default_dir(home=home)`). Idempotent: a second call replaces the first's file
    handler; `settings.file` False removes it. `run_id` becomes a field of every record.
    Returns the log folder."""
    global _sink
    root_level, qlir_level = settings.profile.levels
    logging.getLogger().setLevel(root_level)
    qlir = logging.getLogger(QLIR)
    qlir.setLevel(qlir_level)
    set_defaults(run_id=run_id)
    directory = settings.directory or default_dir(home=home)
    if not settings.file:
        unconfigure()
        return directory
    if _sink is not None and (_sink.directory, _sink.split) == (directory, settings.split):
        return directory
    unconfigure()
    _sink = _Sink(directory, settings.split)
    qlir.handlers.insert(0, _sink)
    logging.getLogger().addHandler(_sink)
    return directory


def unconfigure() -> None:
    """Remove the log file handler (levels stay as they are)."""
    global _sink
    if _sink is None:
        return
    logging.getLogger(QLIR).removeHandler(_sink)
    logging.getLogger().removeHandler(_sink)
    _sink.close()
    _sink = None


@contextmanager
def timed(
    log: logging.Logger, event: str, message: str, *, level: int = logging.DEBUG, **fields: Any
) -> Iterator[dict[str, Any]]:
    """Time the block and log one `event` record with its `duration_ms` (also when the block
    raises). The yielded dict is the record's `extra`: add to it inside the block."""
    extra: dict[str, Any] = {"event": event, **fields}
    started = time.perf_counter()
    try:
        yield extra
    finally:
        extra["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        log.log(level, "%s in %.1f ms", message, extra["duration_ms"], extra=extra)
