"""The exchange's state shared by every request: market, limiter, faults, counters, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from qlir_sim.faults import Faults, FaultSwitch
from qlir_sim.limits import Limits, WeightLimiter
from qlir_sim.market import Market
from qlir_sim.stats import Stats

Clock = Callable[[], float]
"""Seconds since the epoch, like time.time; tests pass a clock they move by hand."""


@dataclass
class Exchange:
    """One running exchange. Requests are handled on one event loop, so no locking is needed."""

    market: Market
    limits: Limits
    initial_faults: Faults
    fault_seed: int
    clock: Clock
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
