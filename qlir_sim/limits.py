"""Binance's request-weight limit: a fixed-window counter, 429 beyond it, 418 bans after.

Its defaults are Binance's own (qlir_core.binance).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from qlir_core import binance

_HISTORY = 100  # windows kept for /sim/stats


@dataclass(frozen=True)
class Limits:
    """The budget: `weight_limit` per fixed window; more than `ban_after` rejections → a ban."""

    weight_limit: int = binance.WEIGHT_LIMIT
    window_seconds: int = int(binance.WEIGHT_WINDOW_S)
    ban_after: int = 5
    ban_seconds: int = int(binance.BAN_S_DEFAULT)

    def __post_init__(self) -> None:
        if min(self.weight_limit, self.window_seconds, self.ban_seconds) < 1 or self.ban_after < 0:
            raise ValueError(f"invalid limits: {self}")

    @property
    def interval(self) -> tuple[str, int]:
        """The window as exchangeInfo spells it: ("MINUTE", 1) for 60 s."""
        longest_first = sorted(binance.RATE_LIMIT_INTERVAL_S.items(), key=lambda u: -u[1])
        for name, seconds in longest_first:
            if self.window_seconds % seconds == 0:
                return name, self.window_seconds // seconds
        raise AssertionError("every whole number of seconds is a count of SECOND")


@dataclass(frozen=True)
class Verdict:
    """The limiter's answer: 200 (go ahead), 429 or 418; seconds to wait; weight used."""

    status: int
    retry_after: int
    used: int
    banned_until: float | None = None


class WeightLimiter:
    """Counts weight per window aligned to the epoch, like Binance's per-minute counter (one IP)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        """Forget all weight, rejections and bans."""
        self._window = -1
        self._used = 0
        self._rejected = 0
        self._banned_until = 0.0
        self._history: OrderedDict[int, int] = OrderedDict()

    def admit(self, weight: int, now: float) -> Verdict:
        """Charge `weight` at time `now` (seconds), or say why not."""
        self._roll(now)
        if now < self._banned_until:
            return self._ban_verdict(now)
        if self._used + weight > self.limits.weight_limit:
            self._rejected += 1
            if self._rejected > self.limits.ban_after:
                self._banned_until = now + self.limits.ban_seconds
                return self._ban_verdict(now)
            window_end = (self._window + 1) * self.limits.window_seconds
            return Verdict(429, max(1, math.ceil(window_end - now)), self._used)
        self._used += weight
        self._history[self._window] = self._used
        return Verdict(200, 0, self._used)

    def used(self, now: float) -> int:
        """Weight used in the current window."""
        self._roll(now)
        return self._used

    def snapshot(self, now: float) -> dict[str, Any]:
        """Counters for /sim/stats: the current window, the ban, and the recent windows."""
        self._roll(now)
        seconds = self.limits.window_seconds
        return {
            "limit": self.limits.weight_limit,
            "window_seconds": seconds,
            "window_start_ms": self._window * seconds * 1000,
            "used": self._used,
            "rejected_in_window": self._rejected,
            "banned_until_ms": int(self._banned_until * 1000) if now < self._banned_until else None,
            "windows": [
                {"start_ms": w * seconds * 1000, "used": u} for w, u in self._history.items()
            ],
        }

    def _roll(self, now: float) -> None:
        window = int(now // self.limits.window_seconds)
        if window != self._window:
            self._window, self._used, self._rejected = window, 0, 0
            while len(self._history) >= _HISTORY:
                self._history.popitem(last=False)

    def _ban_verdict(self, now: float) -> Verdict:
        wait = max(1, math.ceil(self._banned_until - now))
        return Verdict(418, wait, self._used, banned_until=self._banned_until)
