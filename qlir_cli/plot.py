"""`qlir plot SERIES --start D --end D`: the stored candles of a series as a candlestick PNG,
with SMAs and Bollinger bands computed as the studies compute them (TA-Lib, per contiguous
segment), so a researcher sees what the studies saw."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import click
import mplfinance as mpf
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from qlir_cli import settings
from qlir_core.candles import open_ms
from qlir_core.errors import InvalidSeries
from qlir_core.indicators import bbands, sma
from qlir_core.series import Series
from qlir_core.storage import Store

BAND_PERIOD, BAND_K = 20, 2.0  # the band-touch study's defaults
_SIZE_IN, _DPI = (12.0, 7.0), 100
_SMA_COLOURS = ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:olive")


class _Day(click.ParamType):  # type: ignore[type-arg]
    name = "YYYY-MM-DD"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date; expected YYYY-MM-DD", param, ctx)


@click.command()
@click.argument("key", metavar="SERIES")
@click.option("--start", type=_Day(), required=True, help="first day (UTC)")
@click.option("--end", type=_Day(), required=True, help="last day (UTC), included")
@click.option("--sma", "windows", default="", metavar="N,N", help="SMA windows, e.g. 14,50")
@click.option("--bands", is_flag=True, help=f"Bollinger bands ({BAND_PERIOD}, {BAND_K:g})")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PNG file (default: SERIES_START_END.png here)",
)
def plot(key: str, start: date, end: date, windows: str, bands: bool, out: Path | None) -> None:
    """Draw the stored candles of SERIES from --start to --end as a candlestick PNG."""
    try:
        series = Series.parse(key)
    except InvalidSeries as e:
        raise click.BadParameter(str(e), param_hint="SERIES") from None
    if end < start:
        raise click.BadParameter(f"{end} is before --start {start}", param_hint="--end")
    periods = _windows(windows)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    candles = Store(settings.load().data_root).scan_candles(series, days)
    if candles.empty:
        raise click.ClickException(
            f"no stored candles of {series} from {start} to {end}; `qlir series list` shows "
            "what is stored"
        )
    out = out or Path(f"{series.key}_{start}_{end}.png")
    out.write_bytes(chart_png(candles, series, periods, bands))
    click.echo(f"wrote {out} ({len(candles)} candles)")


def chart_png(candles: pd.DataFrame, series: Series, windows: list[int], bands: bool) -> bytes:
    """The candles (and their volume) with the SMAs of `windows` and optionally the bands."""
    frame = pd.DataFrame(
        {
            "Open": candles["open"].to_numpy(),
            "High": candles["high"].to_numpy(),
            "Low": candles["low"].to_numpy(),
            "Close": candles["close"].to_numpy(),
            "Volume": candles["volume"].to_numpy(),
        },
        index=pd.DatetimeIndex(candles["open_time"]).tz_convert(None),
    )
    opens, step = open_ms(candles), series.interval.ms
    lines: list[tuple[str, npt.NDArray[np.float64], str]] = [
        (f"SMA {w}", sma(frame["Close"], opens, w, interval_ms=step), colour)
        for w, colour in zip(windows, _SMA_COLOURS * 4, strict=False)
    ]
    if bands:
        b = bbands(frame["Close"], opens, BAND_PERIOD, BAND_K, interval_ms=step)
        lines += [("bands", b.upper, "grey"), ("", b.mid, "silver"), ("", b.lower, "grey")]
    fig = Figure(figsize=_SIZE_IN, dpi=_DPI, layout="constrained")
    price, volume = fig.subplots(2, 1, sharex=True, height_ratios=[4, 1])
    drawn = [(label, values, colour) for label, values, colour in lines if pd.notna(values).any()]
    extra = [
        mpf.make_addplot(
            values, ax=price, color=colour, width=0.9, **({"label": label} if label else {})
        )
        for label, values, colour in drawn
    ]
    mpf.plot(
        frame,
        type="candle",
        ax=price,
        volume=volume,
        addplot=extra,
        style="yahoo",
        warn_too_much_data=len(frame) + 1,
        axtitle=f"{series.key}  {frame.index[0]:%Y-%m-%d %H:%M} … "
        f"{frame.index[-1]:%Y-%m-%d %H:%M} UTC",
    )
    if drawn:
        price.legend(loc="upper left", fontsize="small")
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _windows(text: str) -> list[int]:
    """`14,50` → [14, 50]; each at least 1."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if not part.isdigit() or int(part) < 1:
            raise click.BadParameter(
                f"{part!r} is not a window; expected whole numbers ≥ 1 like 14,50",
                param_hint="--sma",
            )
        out.append(int(part))
    return list(dict.fromkeys(out))
