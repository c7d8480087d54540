"""Request weight shared by every qlir process that talks to one Binance host.

Binance counts request weight per IP in fixed windows (REQUEST_WEIGHT, 6000 a minute today),
answers 429 with Retry-After beyond it and bans the IP with 418 when a client keeps going
(binance-api-notes.md §5). Parallel runs share that one budget, so its state is a small record
per host, read and written under a lock, in the store one setting chooses (qlir_core.budget_store):
a JSON file under a file lock (the default: every process on this machine), or a Redis key under
a Redis lock (every worker on every machine that reaches the server):

- Pacing is a token bucket filling at `(limit − reserve − burst) / window`, holding `burst`.
  Any window of the exchange's counter then sees at most `limit − reserve`, whatever the offset
  between our clock and the exchange's; the reserve absorbs requests in flight at a window edge.
- The exchange's own count (`X-MBX-USED-WEIGHT-1M` on every answer) is taken when it is higher
  than ours (another client on the same IP): nothing more is sent until that window ends.
- After a 429 nobody sends before its Retry-After has passed. After a 418 nobody sends before
  the ban ends: asking raises IpBanned at once, without a request.

Why not a rate-limiting library: `limits` keeps its counters in memory (per process) or in a
server (Redis, Memcached, MongoDB), never in a file. `pyrate-limiter` does share a weighted
bucket between processes through SQLite and a file lock, but its count is the log of what it
let through itself, in a sliding window: the exchange's higher count of its fixed window
(`X-MBX-USED-WEIGHT-1M`, another client on the IP) could only be forced in as made-up items, and
it has no pause (429) or ban (418) that every process honours. Those would need a second shared
state beside its bucket, under a second lock, so the whole budget stays here, in one record.

The record decides how fast every process sends, so the file store's folder is private to its
user (see `default_folder`, `private_folder`): whoever could write there could slow qlir down, or
send it into a ban, and a symbolic link planted in a shared `/tmp` would have it write elsewhere.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from qlir_core.budget_store import (
    FOLDER_VAR,
    FileStore,
    StateStore,
    default_folder,
    open_store,
    private_folder,
)
from qlir_core.errors import ConfigError, IpBanned

__all__ = ["FOLDER_VAR", "Budget", "WeightLimit", "default_folder", "private_folder"]

RESERVE_SHARE = 0.04  # of the limit, never planned for: requests in flight at a window's edge
MIN_RESERVE = 4  # weight (two klines requests), so that small limits keep a margin too
BURST_SHARE = 0.02  # of the limit, sendable at once after a pause
EDGE_GUARD_SHARE = 0.05  # the exchange's count of a request sent this early in our window may
# still be its previous window's (clocks differ): not taken as this window's
LEARNED_FOR_S = 24 * 3600.0  # how long a limit read from exchangeInfo is trusted
_WINDOW_EDGE_S = 0.01  # sent this long after a window starts, a request is surely counted in it
_CLOSE_ENOUGH_S = 0.0005  # a shorter wait is not worth a sleep (and may not move an epoch clock)


@dataclass(frozen=True)
class WeightLimit:
    """REQUEST_WEIGHT: `weight` per fixed window of `window_s` seconds (exchangeInfo)."""

    weight: int = 6000
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.weight < 1 or self.window_s <= 0:
            raise ConfigError(f"invalid request-weight limit {self.weight} per {self.window_s} s")

    @property
    def reserve(self) -> float:
        return max(RESERVE_SHARE * self.weight, MIN_RESERVE)

    def burst(self, weight: int) -> float:
        """Tokens the bucket holds: room for at least the request at hand."""
        return max(BURST_SHARE * self.weight, weight)

    def rate(self, weight: int) -> float:
        """Weight per second the bucket lets through (at least half the limit)."""
        usable = self.weight - self.reserve - self.burst(weight)
        return max(usable, self.weight / 2) / self.window_s


DEFAULT_LIMIT = WeightLimit()  # Binance's REQUEST_WEIGHT since 2023-08-25: 6000 per minute


@dataclass(frozen=True)
class Ticket:
    """One request let through: its weight, when, and in which window (by our clock)."""

    weight: int
    at: float
    window: int


@dataclass(frozen=True)
class BudgetStatus:
    """What the shared state says now (for logs, tests and the soak)."""

    limit: WeightLimit
    learned: bool
    used: int
    paused_until: float
    banned_until: float


@dataclass
class _State:
    """The stored record. Times are epoch seconds."""

    tokens: float = 0.0
    filled_at: float = 0.0  # 0: never filled; the bucket starts full
    window: int = -1  # the window `used` counts, by our clock
    used: int = 0  # weight of that window: what was sent, or the exchange's count if higher
    paused_until: float = 0.0
    banned_until: float = 0.0
    limit: int = 0  # read from exchangeInfo; 0 when not known
    limit_window_s: float = 0.0
    learned_at: float = 0.0


class Budget:
    """The request-weight budget of one host, shared through the store `store` names (see
    budget_store.store_setting: default $QLIR_BUDGET_STORE, else `file`).

    `limit` is the configured limit; without one, the limit read from exchangeInfo (by any
    process, see `learn`) applies, else Binance's 6000 per minute. The file store keeps
    `<folder>/<host>.json`; `folder` defaults to `default_folder()`, and either way it must be
    private (`private_folder`), checked on first use. A Redis store ignores `folder`.
    """

    def __init__(
        self,
        key: str,
        *,
        folder: Path | None = None,
        limit: WeightLimit | None = None,
        store: str | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = re.sub(r"[^A-Za-z0-9._-]", "_", key)
        self.store: StateStore = open_store(self.key, store, folder)
        self.configured = limit
        self._clock = clock
        self._sleep = sleep
        self._thread_lock = threading.Lock()

    @classmethod
    def for_url(
        cls,
        base_url: str,
        *,
        folder: Path | None = None,
        limit: WeightLimit | None = None,
        store: str | None = None,
    ) -> Budget:
        """The budget of the host `base_url` names (`127.0.0.1:8000`, `data-api.binance.vision`)."""
        return cls(urlsplit(base_url).netloc or base_url, folder=folder, limit=limit, store=store)

    @property
    def path(self) -> Path:
        """The state file (file store only)."""
        if not isinstance(self.store, FileStore):
            raise ConfigError(f"{self!r} keeps no file")
        return self.store.path

    def __repr__(self) -> str:
        return f"Budget({self.store!r})"

    # -- before and after a request -----------------------------------------------------------
    def acquire(self, weight: int) -> Ticket:
        """Wait until `weight` may be sent, and charge it; IpBanned (at once) during a ban."""
        while True:
            with self._state() as state:
                now = self._clock()
                limit = self._limit(state, now)
                self._roll(state, now, limit)
                if state.banned_until > now:
                    raise IpBanned(
                        f"{self.key}: Binance banned this IP until {_iso(state.banned_until)} "
                        f"({state.banned_until - now:.0f} s from now, after an HTTP 418); "
                        "nothing is fetched before then",
                        state.banned_until - now,
                    )
                wait = self._wait(state, now, weight, limit)
                if wait <= _CLOSE_ENOUGH_S:  # the bucket owes the difference
                    state.tokens -= weight
                    state.used += weight
                    return Ticket(weight, now, state.window)
            self._sleep(wait)

    def observe(self, ticket: Ticket, used_weight: int | None) -> None:
        """Take the exchange's count of the window (`X-MBX-USED-WEIGHT-1M`) if it is higher."""
        if used_weight is None:
            return
        with self._state() as state:
            now = self._clock()
            limit = self._limit(state, now)
            self._roll(state, now, limit)
            early = ticket.at - state.window * limit.window_s < EDGE_GUARD_SHARE * limit.window_s
            if ticket.window == state.window and not early:
                state.used = max(state.used, used_weight)

    def pause(self, seconds: float) -> None:
        """A 429: nobody sends for `seconds` (Retry-After); the bucket starts empty after."""
        with self._state() as state:
            now = self._clock()
            state.paused_until = max(state.paused_until, now + seconds)
            state.tokens, state.filled_at = 0.0, state.paused_until

    def ban(self, seconds: float) -> None:
        """A 418: nobody sends for `seconds` (Retry-After: until the ban ends)."""
        with self._state() as state:
            state.banned_until = max(state.banned_until, self._clock() + seconds)

    def learn(self, limit: WeightLimit) -> None:
        """The limit exchangeInfo announces, for every process (unless one is configured)."""
        with self._state() as state:
            state.limit, state.limit_window_s = limit.weight, limit.window_s
            state.learned_at = self._clock()

    # -- what it knows ------------------------------------------------------------------------
    def knows_limit(self) -> bool:
        """True when the limit is configured or was read from exchangeInfo recently."""
        with self._state() as state:
            return self.configured is not None or self._learned(state, self._clock()) is not None

    def window_left(self) -> float:
        """Seconds until the current window ends (a 429's wait when Retry-After is missing)."""
        with self._state() as state:
            now = self._clock()
            window_s = self._limit(state, now).window_s
        return (math.floor(now / window_s) + 1) * window_s - now

    def status(self) -> BudgetStatus:
        with self._state() as state:
            now = self._clock()
            limit = self._limit(state, now)
            self._roll(state, now, limit)
            learned = self.configured is None and self._learned(state, now) is not None
            return BudgetStatus(limit, learned, state.used, state.paused_until, state.banned_until)

    # -- internals ----------------------------------------------------------------------------
    def _limit(self, state: _State, now: float) -> WeightLimit:
        return self.configured or self._learned(state, now) or DEFAULT_LIMIT

    @staticmethod
    def _learned(state: _State, now: float) -> WeightLimit | None:
        fresh = state.limit > 0 and now - state.learned_at < LEARNED_FOR_S
        return WeightLimit(state.limit, state.limit_window_s) if fresh else None

    @staticmethod
    def _roll(state: _State, now: float, limit: WeightLimit) -> None:
        window = math.floor(now / limit.window_s)
        if window != state.window:
            state.window, state.used = window, 0

    @staticmethod
    def _wait(state: _State, now: float, weight: int, limit: WeightLimit) -> float:
        """Seconds to wait before `weight` may go (0: now); refills the bucket on the way."""
        rate, burst = limit.rate(weight), limit.burst(weight)
        if state.filled_at == 0.0:
            state.tokens = burst
        elif now > state.filled_at:
            state.tokens = min(burst, state.tokens + (now - state.filled_at) * rate)
        state.filled_at = max(state.filled_at, now)
        waits = [state.paused_until - now, (weight - state.tokens) / rate]
        if state.used + weight > limit.weight - limit.reserve:
            # The exchange counts more than we sent: someone else spends this IP's budget.
            waits.append((state.window + 1) * limit.window_s + _WINDOW_EDGE_S - now)
        return max(waits)

    @contextmanager
    def _state(self) -> Iterator[_State]:
        """The shared state, locked against other threads and processes, saved on success."""
        with self._thread_lock, self.store.locked() as saved:
            known = {f.name for f in fields(_State)}
            try:
                state = _State(**{k: v for k, v in saved.items() if k in known})
            except TypeError:
                state = _State()
            yield state
            saved.clear()
            saved.update(asdict(state))


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
