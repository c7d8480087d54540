"""The studies' charts as PNG bytes, drawn with matplotlib's Agg canvas.

Figures are built directly (no pyplot), so nothing touches matplotlib's global state or backend and
charts can be drawn from worker threads. matplotlib is imported when the first chart is drawn,
not when the studies are defined: loading the code location does not pay for it.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qlir_core.studies.band_touch import LABELS
from qlir_core.studies.sma import Direction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_DIRECTION_COLOURS = {Direction.UP: "tab:green", Direction.DOWN: "tab:red"}
_DPI = 100


def sma_survival_png(survival: pd.DataFrame, *, title: str = "SMA leg survival") -> bytes:
    """S(N) of up and down legs, one panel per window, log y (S = 0 is off the scale)."""
    windows = sorted(survival["window"].unique().tolist()) or [None]
    # At most ~10 inches wide, so the Dagster UI shows the chart without scrolling.
    fig = _figure(figsize=(min(9.6, 3.6 * len(windows)), 3.6))
    axes = fig.subplots(1, len(windows), squeeze=False)[0]
    for ax, window in zip(axes, windows, strict=True):
        rows = survival[survival["window"] == window]
        for direction in Direction:
            part = rows[(rows["direction"] == direction.value) & (rows["survival"] > 0)]
            legs = int(part["legs_at_least"].max()) if len(part) else 0
            ax.step(
                part["n"],
                part["survival"],
                where="post",
                color=_DIRECTION_COLOURS[direction],
                label=f"{direction.value} ({legs} legs)",
            )
        ax.set_yscale("log")
        ax.set_title(f"SMA {window}" if window is not None else "no data")
        ax.set_xlabel("N (candles)")
        ax.set_ylabel("S(N) = P(L ≥ N)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
    fig.suptitle(_with_series(title, survival))
    return _png(fig)


def band_shares_png(labels: pd.DataFrame, *, title: str = "Band-touch label shares") -> bytes:
    """Share of candles per label, bars in category order."""
    fig = _figure(figsize=(8, 4))
    ax = fig.subplots()
    shares = labels.set_index("label")["share"].reindex(list(LABELS)).fillna(0.0)
    bars = ax.bar(range(len(LABELS)), shares.to_numpy() * 100, color=_label_colours())
    ax.bar_label(bars, fmt="%.1f%%", fontsize="x-small")
    ax.set_xticks(range(len(LABELS)), list(LABELS), rotation=35, ha="right", fontsize="small")
    ax.set_ylabel("share of candles (%)")
    ax.set_title(_with_series(title, labels))
    return _png(fig)


def band_daily_png(daily: pd.DataFrame, *, title: str = "Band-touch labels per day") -> bytes:
    """Candles per day and label, stacked in category order."""
    fig = _figure(figsize=(10, 4.5))
    ax = fig.subplots()
    wide = daily.pivot_table(
        index="day", columns="label", values="count", aggfunc="sum", observed=False
    ).reindex(columns=list(LABELS), fill_value=0)
    if len(wide):
        days = pd.DatetimeIndex(wide.index).tz_convert(None).to_numpy()
        ax.stackplot(
            days, wide.to_numpy(dtype=np.float64).T, labels=list(LABELS), colors=_label_colours()
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    ax.set_ylabel("candles")
    ax.set_xlabel("day (UTC)")
    ax.set_title(_with_series(title, daily))
    return _png(fig)


def _label_colours() -> list[tuple[float, float, float, float]]:
    """Blue (below) to red (above) along the ordered labels; touch_all in black."""
    from matplotlib import colormaps

    cmap = colormaps["coolwarm"]
    from_below = [cmap(float(x)) for x in np.linspace(0.0, 1.0, len(LABELS) - 1)]
    return [*from_below, (0.0, 0.0, 0.0, 1.0)]


def _with_series(title: str, table: pd.DataFrame) -> str:
    names = table["series"].unique().tolist() if "series" in table else []
    return f"{title}: {', '.join(map(str, names))}" if names else title


def _figure(**options: Any) -> Figure:
    from matplotlib.figure import Figure

    return Figure(dpi=_DPI, layout="constrained", **options)


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
