"""`qlir series discover`: the symbols of an exchangeInfo body that pass the filters, as series
keys, and writing them into the settings file without losing its comments."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array, Item, Table

from qlir_core import binance
from qlir_core.errors import ConfigError, InvalidSeries, MalformedPage
from qlir_core.series import Series
from qlir_core.sources.rest import EXCHANGE_INFO_WEIGHT, RestClient
from qlir_dagster.groups import parse_groups

SERIES_KEY = "series"
GROUPS_KEY = "groups"


@dataclass(frozen=True)
class Filters:
    """What a listed symbol must have; None accepts any."""

    quote: str | None
    status: str | None
    permission: str | None

    def accepts(self, entry: Mapping[str, Any]) -> bool:
        if self.quote is not None and entry.get("quoteAsset") != self.quote:
            return False
        if self.status is not None and entry.get("status") != self.status:
            return False
        return self.permission is None or self.permission in permissions(entry)


def permissions(entry: Mapping[str, Any]) -> set[str]:
    """A symbol's permissions: the old flat `permissions`, today's `permissionSets` (any set
    will do), and `isSpotTradingAllowed` as SPOT."""
    found = {str(p) for p in entry.get("permissions") or []}
    for group in entry.get("permissionSets") or []:
        found |= {str(p) for p in group}
    if entry.get("isSpotTradingAllowed") is True:
        found.add("SPOT")
    return found


def fetch_listing(rest_url: str) -> list[dict[str, Any]]:
    """The `symbols` entries of `GET /api/v3/exchangeInfo`, through the shared weight budget;
    a qlir error if the server cannot be reached, refuses, or answers something else."""
    with RestClient(rest_url) as client:
        reply = client.get(f"{client.base_url}{binance.EXCHANGE_INFO_PATH}", EXCHANGE_INFO_WEIGHT)
    try:
        entries = json.loads(reply.body)["symbols"]
        if not all(isinstance(e, dict) and isinstance(e["symbol"], str) for e in entries):
            raise TypeError("a symbol entry is not an object with a `symbol`")
    except (ValueError, KeyError, TypeError) as e:
        raise MalformedPage(f"{reply.url}: not an exchangeInfo body ({e})") from e
    return list(entries)


def discovered(
    entries: Iterable[Mapping[str, Any]], filters: Filters, intervals: Sequence[str]
) -> tuple[list[Series], list[str]]:
    """The series (each accepted symbol at each interval, sorted by symbol) and the accepted
    symbols qlir cannot store (a name outside A-Z0-9, 2-20 characters)."""
    found: list[Series] = []
    skipped: list[str] = []
    for symbol in sorted({str(e["symbol"]) for e in entries if filters.accepts(e)}):
        try:
            found.extend(Series.parse(f"{symbol}-{interval}") for interval in intervals)
        except InvalidSeries:
            skipped.append(symbol)
    return found, skipped


def write_series(path: Path, series: Sequence[Series]) -> None:
    """Set `series` in the TOML file at `path` (created if absent); its comments and every
    other setting stay as they are. A file of series groups is left alone (`write_groups`)."""
    document = _document(path)
    if GROUPS_KEY in document:
        raise ConfigError(
            f"{path} keeps its series in [groups]; expected --group-size N with --write, which "
            "rewrites the groups"
        )
    keys = _keys(series)
    old = document.get(SERIES_KEY)
    if isinstance(old, Item):  # the line's own comment stays too, as it was spaced
        keys.trivia.comment, keys.trivia.comment_ws = old.trivia.comment, old.trivia.comment_ws
    document[SERIES_KEY] = keys
    _replace(path, document)


def write_groups(path: Path, series: Sequence[Series], size: int) -> dict[str, list[Series]]:
    """Set `[groups]` in the TOML file at `path` to `series` in groups of at most `size` (see
    `regrouped`), in place of a `series` list. The table is changed in place: the comments in
    and around it, and every other setting, stay."""
    document = _document(path)
    table = document.get(GROUPS_KEY)
    try:
        existing = {g.name or "": list(g.series) for g in parse_groups(table or {})}
    except ValueError as e:
        raise ConfigError(f"[groups] in {path} is invalid: {e}") from None
    groups = regrouped(existing, series, size)
    if not isinstance(table, Table):
        table = tomlkit.table()
        document.pop(SERIES_KEY, None)
        document[GROUPS_KEY] = table  # a table goes after the file's plain keys
    for name in [n for n in table if n not in groups]:
        del table[name]
    for name, members in groups.items():
        keys, old = _keys(members), table.get(name)
        if isinstance(old, Item):  # as in write_series: the line's comment stays
            keys.trivia.comment, keys.trivia.comment_ws = old.trivia.comment, old.trivia.comment_ws
        table[name] = keys
    _replace(path, document)
    return groups


def regrouped(
    existing: Mapping[str, Sequence[Series]], series: Sequence[Series], size: int
) -> dict[str, list[Series]]:
    """`series` in groups of at most `size`. A series keeps the group it is in, so its asset and
    what the catalog shows of it stay, unless its group holds more than `size` (written with a
    larger size): then the group keeps its first `size`. The others fill the groups with room,
    in order, then new groups `g00`, `g01`, …; a group left empty goes."""
    wanted = dict.fromkeys(series)
    groups = {name: [s for s in members if s in wanted] for name, members in existing.items()}
    overflow = [s for members in groups.values() for s in members[size:]]
    groups = {name: members[:size] for name, members in groups.items()}
    placed = {s for members in groups.values() for s in members}
    new = overflow + [s for s in wanted if s not in placed and s not in overflow]
    for members in groups.values():
        room = size - len(members)
        members.extend(new[:room])
        del new[:room]
    number = 0
    while new:
        while f"g{number:02d}" in groups:
            number += 1
        groups[f"g{number:02d}"], new = new[:size], new[size:]
    return {name: members for name, members in groups.items() if members}


def _document(path: Path) -> tomlkit.TOMLDocument:
    return tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()


def _keys(series: Sequence[Series]) -> Array:
    keys = tomlkit.array()
    keys.extend(s.key for s in series)
    if len(series) > 3:
        keys.multiline(True)
    return keys


def _replace(path: Path, document: tomlkit.TOMLDocument) -> None:
    # Written beside it and moved over it: an interrupted write never leaves half a file.
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(tomlkit.dumps(document), encoding="utf-8")
    staged.replace(path)
