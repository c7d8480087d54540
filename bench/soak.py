"""Soak: a REST backfill of 1s candles from qlir-sim, its weight limit scaled down and about 5 %
of requests faulted, by qlir (parallel worker processes sharing one budget), then the same
backfill by python-binance's `get_historical_klines` and by ccxt's `fetch_ohlcv`.

    uv run --with python-binance --with ccxt python bench/soak.py [--days 12] [--workers 2]

Reported per client: wall time, requests, 429s, 418s, share of the weight budget used, rows
lost and corrupt days (stored or returned candles that differ from what the exchange serves).
python-binance and ccxt are only installed for this script (`uv run --with`), never as project
dependencies; without them their rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from qlir_core import candles
from qlir_core.errors import QlirError
from qlir_core.ingest import SourceMode, Sources, fetch_partition
from qlir_core.manifest import ManifestRow
from qlir_core.pacing import Budget
from qlir_core.publish import decide
from qlir_core.series import Series
from qlir_core.slices import day_start_ms
from qlir_core.sources.archive import ArchiveClient
from qlir_core.sources.rest import RestClient
from qlir_core.storage import Store
from qlir_sim import Synthetic

SERIES = Series.parse("BTCUSDT-1s")
FIRST = date(2024, 1, 1)
DAY_MS = 86_400_000
# About 5 % of REST requests get one of these (independent dice; 4.9 % get at least one).
FAULTS = {
    "error_rate": 0.01,  # 500/502/503/504
    "timeout_rate": 0.005,  # hangs --hang-seconds before answering
    "truncate_rate": 0.01,  # body cut short
    "malformed_rate": 0.005,  # a kline with 11 fields or a non-numeric field
    "duplicate_rate": 0.005,
    "out_of_order_rate": 0.005,
    "outside_window_rate": 0.005,
    "drop_rate": 0.005,  # one to three candles missing inside the page
}
HANG_S = 3.0
TIMEOUT_S = 1.5  # qlir's request timeout here: shorter than a hang
LOG = logging.getLogger("soak")


@dataclass
class Result:
    client: str
    seconds: float = 0.0
    requests: int = 0
    status_429: int = 0
    status_418: int = 0
    weight_used: int = 0
    fetch_seconds: float = 0.0  # from the first request to the last (no process start-up)
    budget_share: float = 0.0  # weight used / (limit × windows the fetching lasted)
    full_window_share: float = 0.0  # the same over the windows the fetching spanned whole
    rows_expected: int = 0
    rows_lost: int = 0
    corrupt_days: int = 0
    failed_days: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)


# -- the exchange -------------------------------------------------------------------------------
@contextmanager
def exchange(args: argparse.Namespace) -> Iterator[str]:
    """qlir-sim in its own process (so it does not share the GIL with a client)."""
    command = [sys.executable, "-m", "qlir_sim.cli", "--synthetic", "--symbols", SERIES.symbol]
    command += ["--intervals", SERIES.interval.value, "--start", FIRST.isoformat()]
    command += ["--days", str(args.days + 1), "--weight-limit", str(args.weight_limit)]
    command += ["--window-seconds", str(args.window_seconds), "--fault-seed", "1"]
    command += ["--hang-seconds", str(HANG_S)]
    for name, rate in FAULTS.items():
        command += [f"--{name.replace('_', '-')}", str(rate)]
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    url = sim.stdout.readline().strip()
    try:
        yield url
    finally:
        sim.send_signal(signal.SIGINT)
        sim.wait(timeout=10)


def measured(url: str, result: Result, run: Callable[[], float | None], window_s: float) -> None:
    """Run `run` on a freshly reset exchange; fill in time, requests, statuses and weight.
    `run` may return when its first request went out (worker processes start up first)."""
    httpx.post(f"{url}/sim/reset").raise_for_status()
    launched = time.time()
    first_request = run()
    ended = time.time()
    started = first_request or launched
    stats = httpx.get(f"{url}/sim/stats").json()
    result.seconds = ended - launched
    result.fetch_seconds = ended - started
    result.requests = stats["rest_requests"]
    result.status_429, result.status_418 = stats["status_429"], stats["status_418"]
    limit = stats["weight"]["limit"]
    windows = stats["weight"]["windows"]
    result.weight_used = sum(w["used"] for w in windows)
    result.budget_share = result.weight_used / (limit * (ended - started) / window_s)
    whole = [
        w["used"]
        for w in windows
        if w["start_ms"] / 1000 >= started and w["start_ms"] / 1000 + window_s <= ended
    ]
    result.full_window_share = sum(whole) / (limit * len(whole)) if whole else 0.0


# -- what the exchange serves -------------------------------------------------------------------
def truth() -> Callable[[date], pd.DataFrame]:
    market = Synthetic([SERIES.symbol], [SERIES.interval.value], FIRST, days=400)
    return lambda day: market.full_day(SERIES, day)


def compare(result: Result, days: list[date], got: dict[date, pd.DataFrame | None]) -> None:
    """Rows lost and corrupt days: `got[day]` against what the exchange serves (None: failed)."""
    served = truth()
    for day in days:
        expected = served(day)
        result.rows_expected += len(expected)
        table = got.get(day)
        if table is None:
            result.failed_days += 1
            result.rows_lost += len(expected)
            continue
        opens = set(candles.open_ms(table).tolist())
        result.rows_lost += len(set(candles.open_ms(expected).tolist()) - opens)
        if not same(table, expected):
            result.corrupt_days += 1


def same(table: pd.DataFrame, expected: pd.DataFrame) -> bool:
    """The same candles: open times exactly, values to 1e-12 (decimal strings round-trip)."""
    if len(table) != len(expected):
        return False
    if not np.array_equal(candles.open_ms(table), candles.open_ms(expected)):
        return False
    for column in [c for c in ("open", "high", "low", "close", "volume") if c in table]:
        a = table[column].to_numpy(dtype=np.float64)
        b = expected[column].to_numpy(dtype=np.float64)
        if not np.allclose(a, b, rtol=1e-12, atol=0):
            return False
    return True


# -- qlir ---------------------------------------------------------------------------------------
def qlir_worker(url: str, folder: str, root: str, days: list[str]) -> dict[str, Any]:
    """One worker process: fetch, decide, publish its days; the reasons of the attempts that
    were asked again (from the manifest rows)."""
    LOG.setLevel(logging.ERROR)  # retries are counted from the manifest, not logged
    budget = Budget.for_url(url, folder=Path(folder))
    store = Store(root)
    reasons: Counter[str] = Counter()
    errors: list[str] = []
    with RestClient(url, timeout=TIMEOUT_S, budget=budget) as client:
        started = time.time()
        client.calibrate(SERIES.symbol)  # the scaled-down limit, from exchangeInfo
        sources = Sources(SourceMode.REST, client, ArchiveClient(url))
        for text in days:
            day = date.fromisoformat(text)
            ledger: list[ManifestRow] = []
            now_ms = int(time.time() * 1000)
            try:
                part = fetch_partition(SERIES, day, sources, now_ms=now_ms, log=LOG, ledger=ledger)
                if decide(part, store.read_candles(SERIES, day)).publish:
                    store.publish(part)
            except QlirError as e:
                errors.append(f"{day}: {type(e).__name__}: {e}")
            superseded = {(r.slice_key, r.attempt - 1) for r in ledger if r.attempt > 1}
            reasons.update(r.reason.value for r in ledger if (r.slice_key, r.attempt) in superseded)
    return {"reasons": dict(reasons), "errors": errors, "started": started}


def run_qlir(url: str, args: argparse.Namespace, days: list[date]) -> Result:
    result = Result(f"qlir ({args.workers} processes)")
    work = Path(tempfile.mkdtemp(prefix="qlir-soak-"))
    shares = [[d.isoformat() for d in days[i :: args.workers]] for i in range(args.workers)]
    outputs: list[dict[str, Any]] = []

    def run() -> float:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=spawn) as pool:
            jobs = [
                pool.submit(qlir_worker, url, str(work / "budget"), str(work / "data"), share)
                for share in shares
            ]
            outputs.extend(job.result() for job in jobs)
        return min(float(o["started"]) for o in outputs)

    measured(url, result, run, args.window_seconds)
    store = Store(str(work / "data"))
    compare(result, days, {d: store.read_candles(SERIES, d) for d in days})
    for output in outputs:
        result.errors.update(output["reasons"])
        result.notes.extend(output["errors"])
    return result


# -- python-binance -----------------------------------------------------------------------------
def run_python_binance(url: str, args: argparse.Namespace, days: list[date]) -> Result:
    from binance.client import Client  # only installed for the benchmark

    result = Result("python-binance get_historical_klines")
    got: dict[date, pd.DataFrame | None] = {}

    def run() -> None:
        client = Client(ping=False)
        client.API_URL = f"{url}/api"
        for day in days:
            start = day_start_ms(day)
            rows = with_user_retries(
                result,
                lambda s=start: client.get_historical_klines(
                    SERIES.symbol, "1s", s, s + DAY_MS - 1
                ),
            )
            got[day] = None if rows is None else as_table(rows)

    measured(url, result, run, args.window_seconds)
    compare(result, days, got)
    return result


# -- ccxt ---------------------------------------------------------------------------------------
def run_ccxt(url: str, args: argparse.Namespace, days: list[date], scaled: bool) -> Result:
    import ccxt  # only installed for the benchmark

    options = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}
    exchange = ccxt.binance({"enableRateLimit": True, "options": options})
    default_ms = exchange.rateLimit
    if scaled:  # its pace (Binance's 6000 a minute) scaled like the exchange's limit
        real_per_s = 6000 / 60
        exchange.rateLimit = default_ms * real_per_s / (args.weight_limit / args.window_seconds)
    name = f"ccxt fetch_ohlcv (rateLimit {exchange.rateLimit:g} ms)"
    result = Result(name)
    for key, value in list(exchange.urls["api"].items()):
        if isinstance(value, str) and value.startswith("https://api.binance.com/api/v3"):
            exchange.urls["api"][key] = value.replace("https://api.binance.com", url)
    got: dict[date, pd.DataFrame | None] = {}

    def one_day(day: date) -> list[list[Any]]:
        """The documented manual pagination: since = last open + 1, until the day ends."""
        rows: list[list[Any]] = []
        since, end = day_start_ms(day), day_start_ms(day) + DAY_MS
        while since < end:
            page = exchange.fetch_ohlcv("BTC/USDT", "1s", since=since, limit=1000)
            page = [r for r in page if r[0] < end]
            if not page:
                break
            rows.extend(page)
            since = int(page[-1][0]) + 1
        return rows

    def run() -> None:
        exchange.load_markets()
        for day in days:
            rows = with_user_retries(result, lambda d=day: one_day(d))
            got[day] = None if rows is None else as_table(rows)
            if result.errors["banned"]:
                result.notes.append(f"stopped at {day}: the IP is banned")
                break

    measured(url, result, run, args.window_seconds)
    compare(result, days, got)
    return result


def with_user_retries(
    result: Result, fetch_day: Callable[[], list[list[Any]]]
) -> list[list[Any]] | None:
    """What a user wraps around a library call: on an exception, wait a second and ask for the
    day again, five times at most. What the library returns is taken as it is."""
    for _ in range(5):
        try:
            return fetch_day()
        except Exception as e:  # whatever the library raises is counted, then retried
            banned = re.search(r"(?<!\d)418(?!\d)", str(e)) or "banned" in str(e).lower()
            kind = "banned" if banned else type(e).__name__
            result.errors[kind] += 1
            if kind == "banned":
                return None
            time.sleep(1)
    return None


def as_table(rows: list[list[Any]]) -> pd.DataFrame:
    """A library's rows (12 fields as Binance sends them, or ccxt's 6) as a table to compare,
    without judging them: what does not parse becomes NaN and compares unequal."""
    names = ["open_time", "open", "high", "low", "close", "volume"]
    frame = pd.DataFrame([r[:6] for r in rows], columns=names)
    for name in names:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    times = frame["open_time"].fillna(-1).astype("int64")
    frame["open_time"] = pd.to_datetime(times, unit="ms", utc=True).astype(candles.TIME_DTYPE)
    return frame


# -- report -------------------------------------------------------------------------------------
def report(results: list[Result], args: argparse.Namespace) -> None:
    limit = f"{args.weight_limit} weight per {args.window_seconds} s"
    print(f"\n{args.days} days of {SERIES} (1s: 87 requests a day); limit {limit}; faults:")
    print("  " + ", ".join(f"{k}={v}" for k, v in FAULTS.items()))
    header = ("client", "time s (fetching)", "requests", "429s", "418s", "budget used")
    header += ("in whole windows",)
    header += ("rows lost", "corrupt days", "failed days")
    print("\n| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in results:
        cells = (
            r.client,
            f"{r.seconds:.1f} ({r.fetch_seconds:.1f})",
            r.requests,
            r.status_429,
            r.status_418,
            f"{r.budget_share:.1%}",
            f"{r.full_window_share:.1%}",
            f"{r.rows_lost} of {r.rows_expected}",
            r.corrupt_days,
            r.failed_days,
        )
        print("| " + " | ".join(str(c) for c in cells) + " |")
    for r in results:
        print(f"\n{r.client}: attempts asked again or failed, by reason: {dict(r.errors)}")
        for note in r.notes[:5]:
            print(f"  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The defaults keep the limit under what 1s pages can be served and parsed on two cores
    # (~10 a second here), so that the budget, not the CPU, sets the pace.
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--weight-limit", type=int, default=120)
    parser.add_argument("--window-seconds", type=int, default=8)
    parser.add_argument("--only-qlir", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    days = [FIRST + timedelta(days=i) for i in range(args.days)]
    results = []
    with exchange(args) as url:
        results.append(run_qlir(url, args, days))
        if not args.only_qlir:
            for other in (
                lambda: run_python_binance(url, args, days),
                lambda: run_ccxt(url, args, days, scaled=True),
                lambda: run_ccxt(url, args, days, scaled=False),
            ):
                try:
                    results.append(other())
                except ImportError as e:
                    print(f"skipped: {e} (run with `uv run --with python-binance --with ccxt`)")
                print(f"done: {results[-1].client} in {results[-1].seconds:.0f} s", flush=True)
    report(results, args)
    if args.json:
        rows = [asdict(r) | {"errors": dict(r.errors)} for r in results]  # asdict mangles Counters
        args.json.write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
