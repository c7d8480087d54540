"""The exchange's state shared by every request: market, limiter, faults, counters, clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qlir_sim.faults import Faults, FaultSwitch
from qlir_sim.limits import Limits, WeightLimiter
from qlir_sim.market import Market

Clock = Callable[[], float]
"""Seconds since the epoch, like time.time; tests pass a clock they move by hand."""


@dataclass
class Stats:
    """What the exchange has answered since it started (or since `POST /sim/reset`)."""

    rest_requests: int = 0
    archive_requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def fault(self, *names: str) -> None:
        """Count injected faults by name."""
        self.faults.update(names)

    def to_json(self, weight: dict[str, Any]) -> dict[str, Any]:
        return {
            "requests": self.rest_requests + self.archive_requests,
            "rest_requests": self.rest_requests,
            "archive_requests": self.archive_requests,
            "responses": {str(k): v for k, v in sorted(self.statuses.items())},
            "status_429": self.statuses[429],
            "status_418": self.statuses[418],
            "faults_injected": sum(self.faults.values()),
            "faults": dict(sorted(self.faults.items())),
            "weight": weight,
        }


@dataclass
class Exchange:
    """One running exchange. Requests are handled on one event loop, so no locking is needed."""

    market: Market
    limits: Limits
    initial_faults: Faults
    fault_seed: int
    clock: Clock
    # exchangeInfo's `symbols` entries as given (`--exchange-info`), instead of ones made from
    # the market's symbols: a real listing, with its statuses and quote assets.
    listing: tuple[dict[str, Any], ...] | None = None
    limiter: WeightLimiter = field(init=False)
    faults: FaultSwitch = field(init=False)
    stats: Stats = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = WeightLimiter(self.limits)
        self.faults = FaultSwitch(self.initial_faults, self.fault_seed)
        self.stats = Stats()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def reset(self) -> None:
        """Back to the starting state: no weight used, no ban, the initial faults and dice."""
        self.__post_init__()
