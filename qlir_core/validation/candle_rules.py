"""Rules over the candles' times, in numpy: inside the day, final, close time (exact, one ms
late, or a truncated halt bar), increasing, unique and aligned open times.

Each rule is a couple of vector operations on a clean day; the slower paths run only on rows
that already failed one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from qlir_core.validation.context import Findings, Partition
from qlir_core.validation.report import FailureCase, iso
from qlir_core.validation.rules import Rule

Ms = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]


def check_candle_times(
    frame: pd.DataFrame, opens: Ms, closes: Ms, part: Partition, found: Findings
) -> None:
    """The time rules; `opens` and `closes` are the table's times in epoch ms, in row order."""
    step = part.interval_ms

    def at(row: int, check: str, value: str, column: str = "open_time") -> FailureCase:
        return FailureCase(check, value, column, open_time_ms=int(opens[row]), row=row)

    outside = np.flatnonzero((opens < part.start_ms) | (opens >= part.end_ms))
    outside = np.union1d(outside, np.flatnonzero(closes >= part.end_ms))
    found.rows(
        Rule.INSIDE_DAY,
        outside,
        lambda r: at(
            r, f"open {iso(opens[r])} / close {iso(closes[r])} not inside {part.day}", iso(opens[r])
        ),
    )
    forming = np.flatnonzero(closes >= part.now_ms)
    found.rows(
        Rule.CANDLE_FINAL,
        forming,
        lambda r: at(
            r, f"closes at or after now ({iso(part.now_ms)})", iso(closes[r]), "close_time"
        ),
    )
    _close_times(frame, opens, closes, part, found)
    steps = np.diff(opens)
    if not (steps > 0).all():
        back = np.flatnonzero(steps < 0) + 1
        found.rows(
            Rule.OPEN_ORDER,
            back,
            lambda r: at(r, f"opens before the row above ({iso(opens[r - 1])})", iso(opens[r])),
        )
        dups, firsts = _duplicates(opens)
        first_of = dict(zip(dups.tolist(), firsts.tolist(), strict=True))
        found.rows(
            Rule.DUPLICATE_OPEN,
            dups,
            lambda r: at(r, f"same open time as row {first_of[r]}", iso(opens[r])),
        )
    else:
        found.add(Rule.OPEN_ORDER, 0)
        found.add(Rule.DUPLICATE_OPEN, 0)
    off = opens % step
    found.rows(
        Rule.MISALIGNED_OPEN,
        np.flatnonzero(off),
        lambda r: at(
            r,
            f"open_time % {step} = {off[r]} (not on a {part.series.interval} boundary)",
            str(opens[r]),
        ),
    )


def _close_times(
    frame: pd.DataFrame,
    opens: Ms,
    closes: Ms,
    part: Partition,
    found: Findings,
) -> None:
    step = part.interval_ms
    odd = np.flatnonzero(closes != opens + step - 1)
    late = odd[closes[odd] == opens[odd] + step]
    early = odd[(closes[odd] >= opens[odd]) & (closes[odd] < opens[odd] + step - 1)]
    truncated = early[_halt_bars(frame, opens, early, part)]
    wrong = np.setdiff1d(odd, np.union1d(late, truncated))

    def case(row: int, check: str, column: str = "close_time") -> FailureCase:
        return FailureCase(
            check, iso(int(closes[row])), column, open_time_ms=int(opens[row]), row=row
        )

    expected = f"open_time + {step} - 1"
    found.rows(
        Rule.CLOSE_TIME,
        wrong,
        lambda r: case(
            r,
            f"close_time should be {expected} = {iso(int(opens[r]) + step - 1)}"
            + (
                "; closing early is a truncated bar only if flat, zero volume, before a gap"
                if opens[r] <= closes[r] < opens[r] + step - 1
                else ""
            ),
        ),
    )
    found.rows(Rule.CLOSE_OFF_BY_ONE, late, lambda r: case(r, f"close_time = open_time + {step}"))
    found.rows(
        Rule.TRUNCATED_BAR,
        truncated,
        lambda r: case(
            r,
            f"truncated bar before a gap: closes {int(opens[r]) + step - 1 - int(closes[r])} ms "
            "early, flat, zero volume",
        ),
    )


def _halt_bars(
    frame: pd.DataFrame, opens: Ms, rows: Rows, part: Partition
) -> npt.NDArray[np.bool_]:
    """Which of `rows` look like the bar a halt cuts short: O=H=L=C, no volume, no trades, and
    the next candle missing (or the day ending)."""
    if not rows.size:
        return np.zeros(0, dtype=bool)
    pick = frame.iloc[rows]
    o, h, lo, c = (pick[name].to_numpy() for name in ("open", "high", "low", "close"))
    flat = (o == h) & (h == lo) & (lo == c)
    idle = (pick["volume"].to_numpy() == 0) & (pick["trades"].to_numpy() == 0)
    nxt = opens[rows] + part.interval_ms
    before_gap = ~np.isin(nxt, opens) | (nxt >= part.end_ms)
    ok: npt.NDArray[np.bool_] = flat & idle & before_gap
    return ok


def _duplicates(opens: Ms) -> tuple[Rows, Rows]:
    """Rows whose open time occurred in an earlier row, and that earlier row, by row."""
    order = np.argsort(opens, kind="stable")
    ranked = opens[order]
    repeat = np.flatnonzero(ranked[1:] == ranked[:-1]) + 1
    first = order[np.searchsorted(ranked, ranked[repeat], side="left")]
    rows = order[repeat]
    by_row = np.argsort(rows, kind="stable")
    return rows[by_row], first[by_row]
