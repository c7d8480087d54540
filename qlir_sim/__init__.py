"""qlir-sim, the local exchange: Binance's klines REST API and daily archive on loopback.

with serve(Synthetic(["BTCUSDT"], ["1m"], date(2024, 1, 1), days=3)) as url:
    httpx.get(f"{url}/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
"""

from qlir_sim.app import create_app, serve
from qlir_sim.faults import CorruptDay, Faults, Halt
from qlir_sim.limits import Limits
from qlir_sim.market import Market, Mirror
from qlir_sim.process import running
from qlir_sim.synthetic import Synthetic

__all__ = [
    "CorruptDay",
    "Faults",
    "Halt",
    "Limits",
    "Market",
    "Mirror",
    "Synthetic",
    "create_app",
    "running",
    "serve",
]
