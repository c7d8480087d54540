"""Fixtures for the signals tests: a webhook receiver on 127.0.0.1 and a mirror whose candles are
designed so that the open SMA2 up leg crosses the 10 % tail level between two refreshes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from qlir_core import binance
from qlir_core.intervals import DAY_MS, MINUTE_MS
from qlir_core.series import Series
from qlir_sim.formats import checksum_file, pack_zip, to_csv

ETH = Series.parse("ETHUSDT-1m")


@dataclass
class Receiver:
    """What the webhook received; `fail_next` answers that many requests with 500 first."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    fail_next: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 that records each JSON body it is POSTed."""
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = box[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests += 1
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(500)
            else:
                state.bodies.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/alerts"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()


# The history (yesterday): up legs of SMA2 — 89 of 2 candles, 5 of 5 and 6 of 12, each followed by
# a one-candle fall — so the 10 % tail threshold of up legs is 6 and the 5 % one is not observed.
HISTORY_UP_LEGS = [2] * 89 + [5] * 5 + [12] * 6
TAIL_10PCT = 6


def designed_opens(n: int, leg_start: int) -> np.ndarray:
    """Opens of n candles: the history legs, one more up leg of 2 onto a level, flat there
    (d = 0), and from `leg_start` on a steady rise: an up leg that lasts to the end."""
    opens = [100.0, 100.0]
    for rise in HISTORY_UP_LEGS:
        for _ in range(rise):
            opens.append(opens[-2] + 0.5)
        opens.append(opens[-2] - 0.5)
    level = max(opens[-2:]) + 1.0
    opens += [level] * (leg_start - len(opens))
    while len(opens) < n:
        opens.append(opens[-2] + 1.0)
    return np.asarray(opens[:n])


def candle_table(start_ms: int, opens: np.ndarray) -> pd.DataFrame:
    """1m candles from `start_ms`: close = the next open, wicks of 0.01."""
    n = len(opens)
    close = np.append(opens[1:], opens[-1])
    times = start_ms + np.arange(n, dtype=np.int64) * MINUTE_MS
    frame = pd.DataFrame(
        {
            "open_time": times,
            "open": opens,
            "high": np.maximum(opens, close) + 0.01,
            "low": np.minimum(opens, close) - 0.01,
            "close": close,
            "volume": np.full(n, 2.0),
            "close_time": times + MINUTE_MS - 1,
            "quote_volume": close * 2,
            "trades": np.full(n, 3, dtype=np.int64),
            "taker_buy_base_volume": np.full(n, 1.0),
            "taker_buy_quote_volume": close,
        }
    )
    for column in ("open_time", "close_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True).astype(
            "datetime64[ms, UTC]"
        )
    return frame


def write_mirror(root: Path, candles: pd.DataFrame, series: Series = ETH) -> Path:
    """The candles as daily archive zips (with CHECKSUM sidecars) under `root`."""
    days = candles["open_time"].dt.date
    for day in sorted(set(days)):
        name = binance.archive_zip_name(series, day)
        folder = root / binance.ARCHIVE_PREFIX / series.symbol / series.interval.value
        folder.mkdir(parents=True, exist_ok=True)
        data = pack_zip(name.removesuffix(".zip") + ".csv", to_csv(candles[days == day]), day)
        (folder / name).write_bytes(data)
        (folder / (name + binance.CHECKSUM_SUFFIX)).write_bytes(checksum_file(data, name))
    return root


def day_ms(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_MS
