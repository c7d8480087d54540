"""Where the shared request-weight budget (qlir_core.pacing) keeps its state, chosen by one setting.

- `file` (the default): a JSON file per host in a private folder, under a file lock. Every
  process of this user on this machine shares it.
- `redis://host:port/db` (or `rediss://`): one key per host on a Redis server, under a Redis
  lock. Every worker that reaches the server shares it, whatever machine it runs on: Binance
  counts weight per IP, so workers behind one address must spend one budget.

Either way a change is load → edit → save under the store's lock, so the budget's logic (and its
429 pause and 418 ban) is the same for both. A Redis lock expires after `LOCK_TTL_S`: a worker
killed while holding it blocks the others for that long at most.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import platformdirs
from filelock import FileLock

from qlir_core.errors import ConfigError, NetworkError

FOLDER_VAR = "QLIR_BUDGET_DIR"  # the one way to choose the file store's folder
STORE_VAR = "QLIR_BUDGET_STORE"  # `file` (default) or a redis:// URL
FILE = "file"
REDIS_SCHEMES = ("redis", "rediss")
KEY_PREFIX = "qlir:budget:"
LOCK_TTL_S = 5.0  # a change takes milliseconds; a dead holder's lock is gone after this
LOCK_WAIT_S = 30.0  # longer than a few TTLs: a lock not had by then means a broken server
_LOCK_POLL_S = 0.001
_PRIVATE = 0o700
# Not on Windows (0 there): the folder's ACLs are the user's by default.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO in place of the file must not hang the read

State = dict[str, Any]


class StateStore(Protocol):
    """One budget's saved state: `locked()` yields it (empty when none), saved on success."""

    def locked(self) -> AbstractContextManager[State]: ...


def store_setting(value: str | None = None) -> str:
    """The store named by `value`, else by $QLIR_BUDGET_STORE, else `file`; ConfigError
    (naming the valid forms, never the URL's password) when it is neither."""
    text = (value if value is not None else os.environ.get(STORE_VAR, "")).strip()
    if not text or text.lower() == FILE:
        return FILE
    parts = urlsplit(text)
    if parts.scheme.lower() in REDIS_SCHEMES and parts.hostname:
        return text
    shown = parts._replace(netloc=parts.hostname or "").geturl() if parts.password else text
    raise ConfigError(
        f"{STORE_VAR}={shown!r} is invalid: expected {FILE} or redis://host:port/db "
        "(rediss:// for TLS)"
    )


def open_store(key: str, setting: str | None = None, folder: Path | None = None) -> StateStore:
    """The store of budget `key`: a file in `folder` (default `default_folder()`) or Redis."""
    chosen = store_setting(setting)
    if chosen == FILE:
        return FileStore((folder if folder is not None else default_folder()) / f"{key}.json")
    return RedisStore(chosen, key)


# -- file ---------------------------------------------------------------------------------------
def default_folder() -> Path:
    """One per user and machine, so all their processes share it: `$QLIR_BUDGET_DIR` when set,
    else `$XDG_RUNTIME_DIR/qlir/budget` (the user's own, emptied at logout), else the user's
    cache dir (`~/.cache/qlir/budget` on Linux, honouring `$XDG_CACHE_HOME`)."""
    chosen = os.environ.get(FOLDER_VAR, "").strip()
    if chosen:
        return Path(chosen)
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "qlir" / "budget"
    return platformdirs.user_cache_path("qlir") / "budget"


class FileStore:
    """`path`, read and written under `path.lock`; its folder must be private (checked once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(f"{path}.lock")
        self._checked = False

    def __repr__(self) -> str:
        return f"FileStore({str(self.path)!r})"

    @contextmanager
    def locked(self) -> Iterator[State]:
        if not self._checked:
            private_folder(self.path.parent)
            self._checked = True
        with self._lock:
            state = _load(self.path)
            yield state
            _save(self.path, state)


def private_folder(folder: Path) -> None:
    """Create `folder` (mode 0700) if it is missing; ConfigError unless it is a real folder
    (not a symbolic link) of the current user that nobody else may enter."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=_PRIVATE, exist_ok=True)
        info = folder.lstat()
    except OSError as e:
        raise ConfigError(
            f"request-weight budget folder {folder}: cannot create it ({e}); "
            f"set {FOLDER_VAR} to a folder of yours"
        ) from e
    problem = _unsafe(info)
    if problem:
        raise ConfigError(
            f"request-weight budget folder {folder} is unsafe: it {problem}. Remove it (qlir "
            f"makes it again, private), or set {FOLDER_VAR} to a folder of yours with mode 0700"
        )


def _unsafe(info: os.stat_result) -> str | None:
    """What makes a folder unsafe to keep the shared state in, if anything."""
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"belongs to uid {info.st_uid}, not to this user (uid {os.getuid()})"
    if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
        return f"has mode {stat.S_IMODE(info.st_mode):04o}, open to other users"
    return None


def _load(path: Path) -> State:
    """The saved state; an empty one when there is none or it cannot be parsed. ConfigError
    when the state file is a symbolic link or not a regular file (never followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise _unsafe_file(
            path, "is a symbolic link" if path.is_symlink() else f"cannot be read ({e})"
        ) from e
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise _unsafe_file(path, "is not a regular file")
        return _parsed(file.read())


def _save(path: Path, state: State) -> None:
    """Write, then rename over: a process killed mid-write leaves the previous state whole.
    The staged file is new (O_EXCL, never a link someone left there) and private (0600)."""
    staged = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staged.unlink(missing_ok=True)  # left by a killed process of ours with this pid
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    with os.fdopen(os.open(staged, flags, 0o600), "w") as file:
        file.write(json.dumps(state))
    staged.replace(path)  # a rename replaces a link at `path`, it never writes through one


def _unsafe_file(path: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"request-weight budget file {path} {problem}; remove it (qlir writes it again)"
    )


def _parsed(text: str | bytes | None) -> State:
    if not text:
        return {}
    try:
        saved = json.loads(text)
    except ValueError:
        return {}
    return saved if isinstance(saved, dict) else {}


# -- redis --------------------------------------------------------------------------------------
_clients: dict[str, Any] = {}  # one connection pool per server and process
_clients_lock = threading.Lock()


def _client(url: str) -> Any:
    import redis  # only when a Redis store is chosen

    with _clients_lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=5.0, socket_connect_timeout=5.0
            )
        return _clients[url]


class RedisStore:
    """The key `qlir:budget:<key>` on the server `url`, changed under the lock `<that>:lock`."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = KEY_PREFIX + key
        parts = urlsplit(url)
        self._where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, {self.key!r})"

    @contextmanager
    def locked(self) -> Iterator[State]:
        import redis

        client = _client(self.url)
        lock = client.lock(
            f"{self.key}:lock", timeout=LOCK_TTL_S, sleep=_LOCK_POLL_S, blocking_timeout=LOCK_WAIT_S
        )
        try:
            if not lock.acquire():
                raise NetworkError(
                    f"request-weight budget on {self._where}: its lock was not free within "
                    f"{LOCK_WAIT_S:.0f} s"
                )
        except redis.RedisError as e:
            raise self._unreachable(e) from e
        try:
            state = _parsed(client.get(self.key))
            yield state
            client.set(self.key, json.dumps(state))
        except redis.RedisError as e:
            raise self._unreachable(e) from e
        finally:
            # Expired (a stall longer than its TTL) or the server is gone: it expires anyway.
            with suppress(redis.RedisError):
                lock.release()

    def _unreachable(self, e: Exception) -> NetworkError:
        return NetworkError(f"request-weight budget on {self._where}: {type(e).__name__}: {e}")
