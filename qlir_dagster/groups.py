"""Series groups: the configured series split into named groups, each with assets of its own
(`majors/klines`, `majors/sma_trend_legs`, …), so that no asset holds more partitions than
Dagster handles well. Without groups every series is in the one unnamed group, whose assets,
jobs and schedules have the plain names (`klines`, `klines_job`, `daily_klines`).

A group is a prefix of names only: storage is by series, so moving a series to another group
keeps its stored days (the new group's asset shows them once materialized again).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from qlir_core.series import Series, parse_series_list

# Dagster allows letters, digits and underscores in asset key parts and job names; lower case
# keeps a group's names apart from the series keys they hold.
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
NAME_FORM = "a lower-case letter, then up to 39 lower-case letters, digits or underscores"
# Dagster's guidance for the partitions of one asset.
PARTITIONS_PER_ASSET = 100_000


@dataclass(frozen=True)
class SeriesGroup:
    name: str | None  # None: the unnamed group of a plain `series` list
    series: tuple[Series, ...]

    def asset_key(self, asset: str) -> dg.AssetKey:
        """`klines` → `majors/klines` (`klines` in the unnamed group)."""
        return dg.AssetKey(asset if self.name is None else [self.name, asset])

    @property
    def key_prefix(self) -> list[str]:
        return [] if self.name is None else [self.name]

    def prefixed(self, name: str) -> str:
        """A job, schedule, op or check name of the group: `klines_job` → `majors_klines_job`
        (unchanged in the unnamed group)."""
        return name if self.name is None else f"{self.name}_{name}"

    @property
    def selection(self) -> str:
        """How `--select` names the group's klines: `majors/klines`."""
        return self.asset_key("klines").to_user_string()


def parse_groups(value: object) -> tuple[SeriesGroup, ...]:
    """A TOML table `{name = [keys]}`, or the variable's `name=KEY,KEY;name=KEY`, as groups in
    the order given; a ValueError names the first problem and the valid form."""
    if isinstance(value, tuple) and all(isinstance(g, SeriesGroup) for g in value):
        return value
    if isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        text = str(value).strip()
        pairs = [_pair(part) for part in text.split(";") if part.strip()]
        if text and not pairs:
            raise ValueError(
                "no group given; expected name=SYMBOL-interval,… per group, joined by ;"
            )
    groups: list[SeriesGroup] = []
    owner: dict[Series, str] = {}
    for name, keys in pairs:
        if NAME.fullmatch(name) is None:
            raise ValueError(f"group name {name!r}: expected {NAME_FORM}")
        if any(g.name == name for g in groups):
            raise ValueError(f"group {name!r} is named twice; expected each name once")
        listed = ",".join(map(str, keys)) if isinstance(keys, list | tuple) else str(keys)
        series = tuple(parse_series_list(listed)) if listed.strip() else ()
        if not series:
            raise ValueError(f"group {name!r} has no series; expected at least one SYMBOL-interval")
        for s in series:
            if s in owner:
                raise ValueError(f"{s} is in both group {owner[s]!r} and group {name!r}")
            owner[s] = name
        groups.append(SeriesGroup(name, series))
    return tuple(groups)


def _pair(part: str) -> tuple[str, str]:
    name, equals, keys = part.partition("=")
    if not equals:
        raise ValueError(
            f"{part.strip()!r}: expected name=SYMBOL-interval,… per group, joined by ;"
        )
    return name.strip(), keys
