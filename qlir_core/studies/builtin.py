"""The built-in studies, registered by name: the SMA trend legs, the Bollinger band touches and
the backtest of the SMA marks."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from qlir_core.series import Series
from qlir_core.studies import charts
from qlir_core.studies.backtest import DEFAULT_FEE_BPS, marks_backtest
from qlir_core.studies.band_touch import HORIZONS, band_touch_study
from qlir_core.studies.registry import StudyResult, study
from qlir_core.studies.sma import DEFAULT_WINDOWS, sma_study
from qlir_core.studies.squeeze import SQUEEZE_LOOKBACK, SQUEEZE_QUANTILE

PRICE_COLUMNS = ("open", "high", "low", "close")
# The multi-band positions the study exists for; their forward returns go into the headline.
FOCUS_LABELS = ("touch_lower_mid", "touch_mid_upper", "touch_all")


@study("sma_study", columns=PRICE_COLUMNS)
def sma_trend_legs(
    candles: pd.DataFrame,
    series: Series,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    price: str = "open",
    flat_tol: float = 1e-9,
) -> StudyResult:
    """SMA trend legs: how long they last, and how likely a leg that has lasted N bars goes on."""
    _check_price(price)
    result = sma_study(
        candles,
        series=series.key,
        windows=tuple(windows),
        price=price,
        flat_tol=flat_tol,
        interval_ms=series.interval.ms,
    )
    headline: dict[str, float] = {}
    for row in result.summary.itertuples(index=False):
        prefix = f"w{row.window}_{row.direction}"
        for stat in ("legs", "length_p50", "length_p90", "length_p99", "tail_10pct", "tail_1pct"):
            value = getattr(row, stat)
            if not pd.isna(value):
                headline[f"{prefix}_{stat}"] = float(value)
    return StudyResult(
        tables={
            "legs": result.legs,
            "survival": result.survival,
            "summary": result.summary,
            "marks": result.marks,
            "mfe_timing": result.mfe_timing,
            "legs_per_period": result.legs_per_period,
        },
        summary=result.summary,
        headline=headline,
        charts={
            "survival": charts.sma_survival_png(result.survival),
        },
    )


@study("band_touch_study", columns=("high", "low", "close"))
def band_touches(
    candles: pd.DataFrame,
    series: Series,
    *,
    period: int = 20,
    k: float = 2.0,
    rel_tol: float = 0.001,
    abs_eps: float = 0.0,
    horizons: Sequence[int] = HORIZONS,
    squeeze_lookback: int = SQUEEZE_LOOKBACK,
    squeeze_quantile: float = SQUEEZE_QUANTILE,
) -> StudyResult:
    """Bollinger band touches: how often each of ten positions occurs and what price did next."""
    result = band_touch_study(
        candles,
        series=series.key,
        period=period,
        k=k,
        rel_tol=rel_tol,
        abs_eps=abs_eps,
        horizons=tuple(horizons),
        squeeze_lookback=squeeze_lookback,
        squeeze_quantile=squeeze_quantile,
        interval_ms=series.interval.ms,
    )
    headline: dict[str, float] = {}
    for row in result.labels.to_dict("records"):
        if not pd.isna(row["share"]):
            headline[f"share_{row['label']}"] = float(row["share"])
    for row in result.forward.to_dict("records"):
        if row["label"] in FOCUS_LABELS and not pd.isna(row["mean_bps"]):
            headline[f"{row['label']}_h{row['horizon']}_mean_bps"] = float(row["mean_bps"])
    summary = result.labels.merge(
        result.forward.pivot_table(
            index="label", columns="horizon", values="mean_bps", observed=False
        )
        .add_prefix("mean_bps_h")
        .reset_index(),
        on="label",
        how="left",
    )
    return StudyResult(
        tables={
            "per_candle": result.per_candle,
            "labels": result.labels,
            "daily": result.daily,
            "forward": result.forward,
            "transitions": result.transitions,
            "squeeze_forward": result.squeeze_forward,
        },
        summary=summary,
        headline=headline,
        charts={
            "label_shares": charts.band_shares_png(result.labels),
            "per_day": charts.band_daily_png(result.daily),
        },
    )


@study("marks_backtest", columns=PRICE_COLUMNS)
def sma_marks_backtest(
    candles: pd.DataFrame,
    series: Series,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    price: str = "open",
    flat_tol: float = 1e-9,
    fee_bps: float = DEFAULT_FEE_BPS,
) -> StudyResult:
    """Backtest of the SMA marks: enter when a leg's mark reaches a tail level, exit at its end."""
    _check_price(price)
    result = marks_backtest(
        candles,
        series=series.key,
        windows=tuple(windows),
        price=price,
        flat_tol=flat_tol,
        fee_bps=fee_bps,
        interval_ms=series.interval.ms,
    )
    headline: dict[str, float] = {}
    for row in result.results.to_dict("records"):
        prefix = f"w{row['window']}_{row['direction']}_{row['level']}"
        headline[f"{prefix}_trades"] = float(row["trades"])
        if not pd.isna(row["net_mean_bps"]):
            headline[f"{prefix}_net_mean_bps"] = float(row["net_mean_bps"])
    return StudyResult(
        tables={"results": result.results, "trades": result.trades},
        summary=result.results,
        headline=headline,
    )


def _check_price(price: str) -> None:
    if price not in PRICE_COLUMNS:
        raise ValueError(f"price must be one of {', '.join(PRICE_COLUMNS)}, got {price!r}")
