"""Counters behind `GET /sim/stats`: requests, statuses, faults injected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


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
