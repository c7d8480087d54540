"""`qlir series discover` (the exchange's symbols that pass filters, optionally written into the
settings file: launch mode "all") and `qlir series list` (what the store holds per series)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import click

from qlir_cli import coverage, discover, settings
from qlir_core.errors import InvalidSeries
from qlir_core.intervals import Interval
from qlir_core.series import Series
from qlir_core.storage import Store

SERIES_VAR = "QLIR_SERIES"
GROUPS_VAR = "QLIR_GROUPS"


@click.group()
def series() -> None:
    """The series qlir keeps: discover them on the exchange, see what is stored."""


@series.command("discover")
@click.option("--quote", metavar="ASSET", help="quote asset, e.g. USDT (default: any)")
@click.option(
    "--status",
    default="TRADING",
    show_default=True,
    help="symbol status (TRADING, BREAK, HALT); 'any' for every status",
)
@click.option(
    "--permission",
    default="SPOT",
    show_default=True,
    help="a permission the symbol must have; 'any' for none",
)
@click.option(
    "--intervals", default="1m", show_default=True, help="comma-separated intervals, 1s … 1d"
)
@click.option("--rest-url", metavar="URL", help="exchange REST base URL (default: the setting)")
@click.option(
    "--write",
    is_flag=True,
    help="set `series` in the settings file (QLIR_CONFIG or ./qlir.toml), keeping the rest",
)
@click.option(
    "--group-size",
    type=click.IntRange(min=1),
    metavar="N",
    help="with --write: set [groups] of at most N series instead (each group its own assets; "
    "a series stays in its group)",
)
def discover_series(
    quote: str | None,
    status: str,
    permission: str,
    intervals: str,
    rest_url: str | None,
    write: bool,
    group_size: int | None,
) -> None:
    """List the symbols of /api/v3/exchangeInfo that pass the filters, as series keys."""
    wanted = _intervals(intervals)
    if group_size is not None and not write:
        raise click.BadParameter("only with --write", param_hint="--group-size")
    if rest_url is not None and not rest_url.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{rest_url!r}: expected an http:// or https:// URL", param_hint="--rest-url"
        )
    url = rest_url or settings.load().binance_rest_url
    filters = discover.Filters(
        quote=quote.upper() if quote else None,
        status=None if status.lower() == "any" else status.upper(),
        permission=None if permission.lower() == "any" else permission.upper(),
    )
    found, skipped = discover.discovered(discover.fetch_listing(url), filters, wanted)
    for name in skipped:
        click.echo(f"skipped {name}: not a symbol qlir can store (A-Z, 0-9, 2-20 long)", err=True)
    if not found:
        raise click.ClickException(f"no symbol of {url} passes the filters")
    for s in found:
        click.echo(s.key)
    if write and group_size is not None:
        path = settings.config_file()
        groups = discover.write_groups(path, found, group_size)
        click.echo(f"wrote {len(found)} series in {len(groups)} groups to {path}", err=True)
        for variable in (SERIES_VAR, GROUPS_VAR):
            if os.environ.get(variable, "").strip():
                click.echo(f"note: {variable} is set and overrides the file's groups", err=True)
    elif write:
        path = settings.config_file()
        discover.write_series(path, found)
        click.echo(f"wrote {len(found)} series to {path}", err=True)
        for variable in (SERIES_VAR, GROUPS_VAR):
            if os.environ.get(variable, "").strip():
                click.echo(f"note: {variable} is set and overrides the file's series", err=True)


@series.command("list")
@click.argument("keys", nargs=-1, metavar="[SERIES]...")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per series, for scripts")
def list_series(keys: Sequence[str], as_json: bool) -> None:
    """Each configured series (or the SERIES given) with what the store holds."""
    loaded = settings.load()
    chosen = _configured(keys, loaded.series)
    today = datetime.now(UTC).date()
    found = coverage.coverage(Store(loaded.data_root), chosen, loaded.start_date, today)
    if as_json:
        click.echo(json.dumps([c.to_json() for c in found], indent=2))
        return
    for c in found:
        row = c.to_json()
        stored = row["days_stored"]
        span = f"{row['first_day']} … {row['last_day']}" if stored else "nothing stored"
        click.echo(f"{c.series.key}: {stored} day(s) stored, {span}")
        click.echo(
            f"  missing {row['days_missing']} day(s) from {loaded.start_date} to {today}"
            + "".join(f"; {r['first']}…{r['last']} ({r['days']})" for r in row["missing_runs"][:5])
            + ("; …" if len(row["missing_runs"]) > 5 else "")
        )
        click.echo(f"  partial: {', '.join(row['partial_days']) or 'none'}")
        gaps = row["gap_runs"]
        click.echo(f"  exchange gaps: {len(gaps)} run(s) on {len(row['gap_days'])} day(s)")
        for g in gaps:
            click.echo(f"    {g['first_missing']} … {g['last_missing']} ({g['candles']} candles)")
        click.echo(f"  last update: {row['last_update'] or 'never'}")


def _intervals(text: str) -> list[str]:
    """The comma-separated intervals, each one qlir can store (it tiles a day)."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            interval = Interval.parse(part)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--intervals") from None
        if not interval.tiles_day:
            raise click.BadParameter(
                f"{part} does not divide a day; expected one of 1s … 1d", param_hint="--intervals"
            )
        out.append(interval.value)
    if not out:
        raise click.BadParameter("empty; expected e.g. 1m,1h", param_hint="--intervals")
    return list(dict.fromkeys(out))


def _configured(keys: Sequence[str], configured: Sequence[Series]) -> list[Series]:
    """The configured series named by `keys` (all of them if none)."""
    if not keys:
        return list(configured)
    chosen = []
    for key in keys:
        try:
            one = Series.parse(key)
        except InvalidSeries as e:
            raise click.BadParameter(str(e), param_hint="SERIES") from None
        if one not in configured:
            known = ", ".join(s.key for s in configured)
            raise click.BadParameter(
                f"{key!r} is not a configured series; expected one of {known}", param_hint="SERIES"
            )
        chosen.append(one)
    return chosen
