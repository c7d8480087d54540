"""qlir-sim in a process of its own, so it never shares the GIL with the client it serves.

with running("--synthetic", "--symbols", "BTCUSDT", "--days", "3") as url:
    ...
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def running(*flags: str) -> Iterator[str]:
    """Start `qlir-sim FLAGS…`, yield the base URL it prints first, stop it (SIGINT) on exit."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "qlir_sim.cli", *flags], stdout=subprocess.PIPE, text=True
    )
    assert sim.stdout is not None
    try:
        url = sim.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"qlir-sim did not start (printed {url!r})")
        yield url
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            sim.kill()
            sim.communicate()
