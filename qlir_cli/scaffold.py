"""The files `qlir studies new NAME` writes: a working example study and its test."""

from __future__ import annotations

from pathlib import Path

STUDY_TEMPLATE = '''\
"""{name}: a user study of qlir.

Every module in the studies folder is loaded with the Dagster code location: the study below is
the asset `{name}`, partitioned by series, and its keyword parameters are its run config.
Materialize it with `dagster asset materialize -m qlir_dagster.definitions --select {name}
--partition BTCUSDT-1m`; `qlir studies list` shows it. `columns` names the candle columns it
reads (open_time always comes), so only those are read from storage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qlir_core.candles import open_ms
from qlir_core.indicators import segment_ids
from qlir_core.series import Series
from qlir_core.studies.registry import StudyResult, study


@study("{name}", columns=("high", "close"))
def {name}(
    candles: pd.DataFrame,
    series: Series,
    *,
    lookback: int = 20,
    horizon: int = 15,
) -> StudyResult:
    """Breakouts: closes above the highest high of the previous candles, and what came next."""
    if lookback < 1 or horizon < 1:
        raise ValueError(f"lookback and horizon must be at least 1, got {{lookback}}, {{horizon}}")
    # Windows never reach across a gap in the candles (an exchange halt, a missing day).
    segment = segment_ids(open_ms(candles), series.interval.ms)
    by_segment = candles.groupby(segment, sort=False)
    prior_high = by_segment["high"].transform(lambda h: h.rolling(lookback).max().shift(1))
    later_close = by_segment["close"].shift(-horizon)
    breakout = (candles["close"] > prior_high).to_numpy()
    forward_bps = (later_close / candles["close"] - 1.0) * 10_000
    breakouts = pd.DataFrame(
        {{
            "open_time": candles["open_time"],
            "close": candles["close"],
            "prior_high": prior_high,
            "forward_bps": forward_bps,
        }}
    )[breakout].reset_index(drop=True)
    known = breakouts["forward_bps"].dropna()
    summary = pd.DataFrame(
        {{
            "lookback": [lookback],
            "horizon": [horizon],
            "candles": [len(candles)],
            "breakouts": [len(breakouts)],
            "mean_forward_bps": [known.mean() if len(known) else np.nan],
            "share_up": [(known > 0).mean() if len(known) else np.nan],
        }}
    )
    headline = {{"breakouts": float(len(breakouts))}}
    if len(known):
        headline["mean_forward_bps"] = float(known.mean())
    return StudyResult(
        tables={{"breakouts": breakouts, "summary": summary}}, summary=summary, headline=headline
    )
'''

TEST_TEMPLATE = '''\
"""The study `{name}` on a small candle table whose answer is known. Run: pytest {test_file}"""

import numpy as np
import pandas as pd

from qlir_core.candles import COLUMNS, TIME_DTYPE
from qlir_core.series import Series
from qlir_core.studies.registry import registered

import {name}  # noqa: F401  (registers the study)

SERIES = Series.parse("BTCUSDT-1m")
START = pd.Timestamp("2024-01-01", tz="UTC")


def candles(closes, skip_after=None):
    """1m candles closing at `closes`; with `skip_after` = i, ten minutes are missing after i."""
    minutes = np.arange(len(closes))
    if skip_after is not None:
        minutes[skip_after + 1 :] += 10
    opens = START + pd.to_timedelta(minutes, unit="min")
    close = np.asarray(closes, dtype=float)
    frame = pd.DataFrame(
        {{
            "open_time": opens,
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": 1.0,
            "close_time": opens + pd.Timedelta(milliseconds=59_999),
            "quote_volume": close,
            "trades": 1,
            "taker_buy_base_volume": 0.5,
            "taker_buy_quote_volume": close / 2,
        }}
    )
    return frame.astype({{"open_time": TIME_DTYPE, "close_time": TIME_DTYPE}})[list(COLUMNS)]


def study():
    (found,) = [s for s in registered() if s.name == "{name}"]
    return found


def test_a_close_above_the_prior_highs_is_a_breakout():
    result = study().run(candles([10, 11, 10, 12, 13, 13]), SERIES, {{"lookback": 2, "horizon": 1}})
    breakouts = result.tables["breakouts"]
    # 12 tops 11 and 10, 13 tops 10 and 12; the second 13 does not top 13
    assert breakouts["close"].tolist() == [12.0, 13.0]
    assert breakouts["forward_bps"].tolist()[0] == (13 / 12 - 1) * 10_000
    assert result.summary["breakouts"].iloc[0] == 2


def test_windows_do_not_reach_across_a_gap():
    # 20 after the gap would top the highs before it, but they are not its window
    result = study().run(candles([10, 11, 20, 21], skip_after=1), SERIES, {{"lookback": 2}})
    assert result.tables["breakouts"].empty


def test_its_parameters_are_its_config():
    assert study().parameters == {{"lookback": 20, "horizon": 15}}
'''


def write_study(folder: Path, name: str) -> tuple[Path, Path]:
    """Write `NAME.py` and `test_NAME.py` into `folder` (created if needed); both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    module, test = folder / f"{name}.py", folder / f"test_{name}.py"
    module.write_text(STUDY_TEMPLATE.format(name=name), encoding="utf-8")
    test.write_text(TEST_TEMPLATE.format(name=name, test_file=test.name), encoding="utf-8")
    return module, test
