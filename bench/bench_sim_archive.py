"""How fast the synthetic archive serves a day-by-day backfill (qlir-sim run as its own process).

    uv run python bench/bench_sim_archive.py [--days 60] [--series 3] [--parse]

Prints server-side milliseconds per day: the time a client waits for CHECKSUM + zip, with
`--parse` also reading each zip into candles as a real client would between requests.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from datetime import date, timedelta

import httpx

from qlir_core.candles import from_csv
from qlir_sim.formats import read_zip

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--series", type=int, default=3, choices=range(1, len(SYMBOLS) + 1))
    parser.add_argument("--parse", action="store_true", help="parse each zip like a client")
    args = parser.parse_args()
    symbols = SYMBOLS[: args.series]
    start = date(2024, 1, 1)
    command = [sys.executable, "-m", "qlir_sim.cli", "--synthetic", "--symbols", ",".join(symbols)]
    command += ["--start", start.isoformat(), "--days", "365"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as sim:
        assert sim.stdout is not None
        url = sim.stdout.readline().strip()
        try:
            waited, total = 0.0, time.perf_counter()
            with httpx.Client(base_url=url, timeout=30) as client:
                for symbol in symbols:
                    for i in range(args.days):
                        name = f"{symbol}-1m-{start + timedelta(days=i)}.zip"
                        path = f"/data/spot/daily/klines/{symbol}/1m/{name}"
                        t = time.perf_counter()
                        sidecar = client.get(path + ".CHECKSUM").raise_for_status().text
                        data = client.get(path).raise_for_status().content
                        waited += time.perf_counter() - t
                        assert sidecar.split()[0] == hashlib.sha256(data).hexdigest()
                        if args.parse:
                            from_csv(read_zip(data))
            total = time.perf_counter() - total
        finally:
            sim.terminate()
    days = args.days * len(symbols)
    print(
        f"{days} days: waited {waited / days * 1000:.1f} ms/day on the server, "
        f"{total / days * 1000:.1f} ms/day in all"
    )


if __name__ == "__main__":
    main()
