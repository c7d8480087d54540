"""`qlir-sim`: run the local exchange; prints its base URL as the first line of stdout."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from qlir_core import binance
from qlir_sim.app import HOST, base_url, create_app, listen, make_server, run_until_signal
from qlir_sim.faults import Faults
from qlir_sim.limits import Limits
from qlir_sim.market import Market, Mirror
from qlir_sim.synthetic import ARCHIVE_MICROS_FROM, Synthetic

_LIMITS = Limits()  # Binance's defaults
_FAULT_HELP = {
    "error_rate": "share of REST and archive requests answered 500/502/503/504",
    "latency_ms": "milliseconds added to every REST and archive request",
    "latency_jitter_ms": "up to this many milliseconds more per request, uniformly at random",
    "timeout_rate": "share of requests that hang --hang-seconds before answering",
    "hang_seconds": "how long a timed-out request hangs (longer than the client's timeout)",
    "truncate_rate": "share of klines bodies cut short (invalid JSON)",
    "malformed_rate": "share of klines bodies with a candle of 11 fields or a non-numeric field",
    "drop_rate": "share of klines responses missing one to three interior candles",
    "duplicate_rate": "share of klines responses with one candle sent twice",
    "out_of_order_rate": "share of klines responses with two neighbouring candles swapped",
    "outside_window_rate": "share of klines responses starting with a candle from before the "
    "window asked for",
    "burst_429": "answer the next N REST requests with 429 (Retry-After: 1)",
    "force_418": "answer every REST request with 418 (Retry-After: --ban-seconds)",
    "corrupt_zip": "serve a damaged zip for this day (YYYY-MM-DD or all); repeatable",
    "corrupt_checksum": "serve a wrong CHECKSUM for this day (YYYY-MM-DD or all); repeatable",
    "truncate_csv": "serve this day's zip with its CSV cut mid-line and a CHECKSUM that matches "
    "(YYYY-MM-DD or all); repeatable",
}

_B = binance  # short, so the endpoint lines below stay aligned
_EPILOG = (
    f"""\
endpoints:
  GET  {_B.KLINES_PATH}        symbol, interval, startTime, endTime, limit \
({_B.DEFAULT_LIMIT}, max {_B.MAX_LIMIT}); weight {_B.KLINES_WEIGHT}
  GET  {_B.UIKLINES_PATH}      the same parameters, the same candles and weight
  GET  {_B.EXCHANGE_INFO_PATH}  optional symbol or symbols; weight {_B.EXCHANGE_INFO_WEIGHT}
  GET  {_B.TIME_PATH}, {_B.PING_PATH}                                    weight {_B.TIME_WEIGHT}
  GET  /{_B.ARCHIVE_PREFIX}/SYMBOL/INTERVAL/SYMBOL-INTERVAL-YYYY-MM-DD.zip[.CHECKSUM]   no weight
"""
    + """\
  GET  /sim/faults           the current fault switches
  POST /sim/faults           JSON object merged into them, e.g. {"error_rate": 0.5};
                             "reset": true starts from no faults, "seed": N restarts the fault dice
  GET  /sim/stats            requests, responses by status, 429s, 418s, faults, weight per window
  POST /sim/reset            counters, weight, bans and faults back to how the server started

every REST answer carries X-MBX-USED-WEIGHT-1M. Beyond the budget: 429 with Retry-After (seconds to
the window's end); more than --ban-after rejections in one window: 418 for --ban-seconds.

examples:
  qlir-sim --mirror ../shared/data/binance/mirror
  qlir-sim --synthetic --symbols BTCUSDT,ETHUSDT --intervals 1m,1h \\
           --start 2024-01-01 --days 30 --seed 7
  qlir-sim --synthetic --start 2024-01-01 --days 5 --halt 2024-01-02T12:40/2024-01-02T14:00
  qlir-sim --synthetic --start today-3 --until-now    (today served partially, via REST only)
"""
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, bind the port, print the URL, serve until SIGINT or SIGTERM."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        market = market_from_args(args)
        limits = Limits(args.weight_limit, args.window_seconds, args.ban_after, args.ban_seconds)
        switches: dict[str, Any] = {f.name: _fault_value(args, f.name) for f in fields(Faults)}
        faults = Faults(**switches)
        listing = None if args.exchange_info is None else read_listing(args.exchange_info)
        sock = listen(args.host, args.port)
    except (ValueError, OSError) as e:  # OSError: an unreadable mirror, a port in use
        parser.error(str(e))
    app = create_app(
        market, limits=limits, faults=faults, fault_seed=args.fault_seed, listing=listing
    )
    try:
        print(base_url(sock), flush=True)
        run_until_signal(make_server(app, args.log_level), sock)
    except KeyboardInterrupt:  # stopped before the signal handlers were installed
        return 130
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qlir-sim",
        description="A local Binance spot exchange: REST klines and the daily archive, with "
        "request-weight limits and injectable faults. Prints its base URL first, then serves.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default=HOST, help="address to bind (default %(default)s)")
    server.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    server.add_argument(
        "--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"]
    )

    data = parser.add_argument_group("data (one of --mirror or --synthetic)")
    mode = data.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--mirror", metavar="DIR", help="serve a folder in the archive layout (data/spot/…)"
    )
    mode.add_argument(
        "--synthetic", action="store_true", help="serve deterministic random-walk candles"
    )
    data.add_argument(
        "--symbols", default="BTCUSDT,ETHUSDT,SOLUSDT", help="comma-separated (%(default)s)"
    )
    data.add_argument("--intervals", default="1m", help="comma-separated, 1s … 1d (%(default)s)")
    data.add_argument(
        "--start",
        type=_start_day,
        default=date(2024, 1, 1),
        help="first day: YYYY-MM-DD or today-N (2024-01-01)",
    )
    data.add_argument("--days", type=int, default=30, help="number of days (%(default)s)")
    data.add_argument(
        "--until-now",
        action="store_true",
        help="no last day: candles up to the clock, the last one forming",
    )
    data.add_argument(
        "--seed", type=int, default=0, help="random seed of the candles (%(default)s)"
    )
    data.add_argument(
        "--halt",
        action="append",
        default=[],
        metavar="START/END",
        help="no candles open in [START, END), UTC, e.g. "
        "2024-01-02T12:40/2024-01-02T14:00; repeatable",
    )
    data.add_argument(
        "--corrupt-day",
        action="append",
        default=[],
        metavar="KIND:SERIES:DAY",
        help="serve a day wrong in REST and archive: dup:BTCUSDT-1m:2024-01-02 (its middle "
        "candle twice) or misalign:… (that candle shifted half an interval); repeatable",
    )
    data.add_argument(
        "--exchange-info",
        metavar="FILE",
        help="an exchangeInfo JSON body whose `symbols` list is served as is (statuses, quote "
        "assets, permissions); default: every served symbol, TRADING on SPOT",
    )
    data.add_argument(
        "--ms-archive",
        action="store_true",
        help="archive times in ms throughout "
        f"(the real archive writes µs from {ARCHIVE_MICROS_FROM})",
    )

    limits = parser.add_argument_group("request-weight limit")
    limits.add_argument(
        "--weight-limit",
        type=int,
        default=_LIMITS.weight_limit,
        help="weight per window (%(default)s)",
    )
    limits.add_argument(
        "--window-seconds",
        type=int,
        default=_LIMITS.window_seconds,
        help="fixed window length (%(default)s)",
    )
    limits.add_argument(
        "--ban-after",
        type=int,
        default=_LIMITS.ban_after,
        help="429s in one window before a 418 ban (%(default)s)",
    )
    limits.add_argument(
        "--ban-seconds", type=int, default=_LIMITS.ban_seconds, help="ban length (%(default)s)"
    )

    faults = parser.add_argument_group("faults (also changeable at runtime: POST /sim/faults)")
    faults.add_argument(
        "--fault-seed", type=int, default=0, help="seed of the fault dice (%(default)s)"
    )
    for f in fields(Faults):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(Faults(), f.name)
        if isinstance(default, bool):
            faults.add_argument(flag, action="store_true", help=_FAULT_HELP[f.name])
        elif isinstance(default, tuple):
            faults.add_argument(
                flag, action="append", default=[], metavar="DAY", help=_FAULT_HELP[f.name]
            )
        else:
            faults.add_argument(
                flag,
                type=type(default),
                default=default,
                help=f"{_FAULT_HELP[f.name]} (%(default)s)",
            )
    return parser


def market_from_args(args: argparse.Namespace) -> Market:
    """The market the parsed flags describe; ValueError on a bad combination or value."""
    if args.mirror:
        if args.halt or args.corrupt_day:
            raise ValueError("--halt and --corrupt-day apply to --synthetic only")
        return Mirror(args.mirror)
    return Synthetic(
        [s.strip() for s in args.symbols.split(",") if s.strip()],
        [i.strip() for i in args.intervals.split(",") if i.strip()],
        args.start,
        None if args.until_now else args.days,
        args.seed,
        halts=args.halt,
        corrupt_days=args.corrupt_day,
        archive_micros_from=None if args.ms_archive else ARCHIVE_MICROS_FROM,
    )


def read_listing(path: str) -> list[dict[str, Any]]:
    """The `symbols` entries of an exchangeInfo body; ValueError if it is not one."""
    # OSError: unreadable; JSONDecodeError is a ValueError
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = body.get("symbols") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("symbol"), str) for e in entries
    ):
        raise ValueError(f"{path}: not an exchangeInfo body (no `symbols` list of objects)")
    return entries


def _fault_value(args: argparse.Namespace, name: str) -> object:
    value = getattr(args, name)
    return tuple(value) if isinstance(value, list) else value


def _start_day(text: str) -> date:
    """`2024-01-01`, or `today-N` for N days before the current UTC day."""
    if text.startswith("today"):
        back = text.removeprefix("today").removeprefix("-") or "0"
        return datetime.now(UTC).date() - timedelta(days=int(back))
    return date.fromisoformat(text)


if __name__ == "__main__":
    sys.exit(main())
