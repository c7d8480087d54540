"""A partition's versions: the id each publish gets and the stamp its commit carries.

A version id is the fetch time and a digest of what the fetch holds, `20240103T000512123Z-3f9c…`:
ids sort in fetch order, and publishing the same fetch twice gives the same id (the same keys).
The stamp travels in the key-value metadata of the committed candle table; it names the version
and fingerprints every other part of it, so a reader can tell the parts belong together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from qlir_core.manifest import ManifestRow

STAMP_KEY = b"qlir.commit"
_NO_TIME = "00000000T000000000Z"  # a fetch without ledger rows sorts first


@dataclass(frozen=True)
class Stamp:
    """What the committed candle table says about the version it belongs to."""

    version: str
    fetched_at_ms: int | None  # the fetch's latest answer (None: no ledger rows)
    candles_sha256: str  # of the version's own copy of the candle table
    manifest_sha256: str
    raw_sha256: dict[str, str]  # payload name -> digest
    kept: tuple[str, ...] = ()  # earlier versions kept readable, oldest first

    def encode(self) -> bytes:
        body = {
            "version": self.version,
            "fetched_at_ms": self.fetched_at_ms,
            "candles_sha256": self.candles_sha256,
            "manifest_sha256": self.manifest_sha256,
            "raw_sha256": self.raw_sha256,
            "kept": list(self.kept),
        }
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Stamp:
        body = json.loads(data)
        return cls(
            version=str(body["version"]),
            fetched_at_ms=None if body["fetched_at_ms"] is None else int(body["fetched_at_ms"]),
            candles_sha256=str(body["candles_sha256"]),
            manifest_sha256=str(body["manifest_sha256"]),
            raw_sha256={str(k): str(v) for k, v in body["raw_sha256"].items()},
            kept=tuple(str(v) for v in body["kept"]),
        )

    @property
    def retained(self) -> frozenset[str]:
        """Every version of the partition that stays stored: this one and the kept ones."""
        return frozenset((self.version, *self.kept))


def fetched_at_ms(rows: Iterable[ManifestRow]) -> int | None:
    """When a fetch got its latest answer: the newest `completed_at` of its ledger rows."""
    times = [int(pd.Timestamp(r.completed_at).value // 1_000_000) for r in rows]
    return max(times) if times else None


def version_id(fetched_ms: int | None, digests: Iterable[str]) -> str:
    """`<fetch time>-<digest>`: sortable by fetch time, the same for the same fetch."""
    digest = hashlib.sha256("|".join(digests).encode()).hexdigest()[:16]
    if fetched_ms is None:
        return f"{_NO_TIME}-{digest}"
    when = pd.Timestamp(fetched_ms, unit="ms", tz="UTC")
    return f"{when:%Y%m%dT%H%M%S}{when.microsecond // 1000:03d}Z-{digest}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
