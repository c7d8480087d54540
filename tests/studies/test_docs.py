"""The worked examples in docs/STUDIES.md, read from the document and checked against the code:
the per-candle marks and the MFE timing curve of the 11-candle example, and the squeeze flags."""

from __future__ import annotations

import numpy as np

from qlir_core.studies import sma_study
from qlir_core.studies.squeeze import squeeze
from tests.conftest import REPO
from tests.core.conftest import MakeCandles

WORKED_OPENS = [1.0, 2, 3, 4, 3, 2, 2, 3, 4, 5, 6]


def _table(section: str, first_header: str) -> list[list[str]]:
    """The rows of the first markdown table in `section` whose header starts with `first_header`."""
    text = (REPO / "docs" / "STUDIES.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_marks_table(make_candles: MakeCandles) -> None:
    marks = sma_study(make_candles(WORKED_OPENS), series="EX-1m", windows=(2,)).marks
    rows = _table("Per-candle marks", "t")
    assert len(rows) == len(marks)
    for (t, direction, r, start, prior, tails), mark in zip(
        rows, marks.to_dict("records"), strict=True
    ):
        assert (mark["direction"] if isinstance(mark["direction"], str) else "–") == direction, t
        assert str(mark["run_length"]) == r, t
        if start == "–":
            assert mark["leg_start"] is None or str(mark["leg_start"]) == "NaT"
        else:
            assert mark["leg_start"] == marks["open_time"].iloc[int(start[1:])], t
        assert (str(mark["prior_legs"]) if r != "0" else "–") == prior, t
        flags = any(mark[c] for c in marks.columns if c.startswith("in_tail_"))
        assert ("yes" if flags else "no") == tails, t


def test_the_mfe_timing_table(make_candles: MakeCandles) -> None:
    timing = sma_study(make_candles(WORKED_OPENS), series="EX-1m", windows=(2,)).mfe_timing
    rows = _table("SMA study", "direction")
    got = [
        [
            r["direction"],
            str(r["t"]),
            str(r["legs_running"]),
            str(r["mfe_done"]),
            f"{r['share_done']:g}",
        ]
        for r in timing.to_dict("records")
    ]
    assert got == rows


def test_the_squeeze_table() -> None:
    widths = np.array([0.10, 0.12, 0.08, 0.09, 0.11, 0.07, 0.10, 0.13])
    state = squeeze(widths, lookback=5, quantile=0.2)
    rows = _table("Band-touch study", "t")
    assert rows[0][0] == "t0–t3"
    assert not state.defined[:4].any()
    for t, window, q, width, flag in rows[1:]:
        i = int(t[1:])
        assert sorted(widths[i - 4 : i + 1].tolist()) == [float(x) for x in window.split()]
        assert round(float(state.quantile[i]), 12) == float(q)
        assert widths[i] == float(width)
        assert flag.startswith("yes" if state.flag[i] else "no")
    ends = [t for t, *_, flag in rows if "ends" in flag]
    assert ends == ["t6"]
