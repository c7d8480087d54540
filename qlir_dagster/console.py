"""The code location as a shell shows it: no notice about a Dagster API we use on purpose, and a
user error (a bad setting, an unknown partition key) as one line saying what is wrong and the
valid form, not a traceback.

Installed when the definitions load, so it covers `dagster asset materialize`, `dg launch`,
`dagster job execute` and `qlir-demo`. The webserver and daemon catch their own errors and show
them in the UI; only an exception nobody caught reaches the hook.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType

import dagster as dg

from qlir_core.binance import Endpoint
from qlir_core.errors import ConfigError
from qlir_dagster import config
from qlir_dagster.defs.binance.partitions import group_of, key_problem
from qlir_dagster.groups import SeriesGroup

# Dagster's CLI checks a `--partition` against the partitions before any qlir code runs, and
# raises this with the key quoted in backticks.
_QUOTED_KEY = re.compile(r"partition key `([^`]*)`")
_PARTITION_OPTIONS = ("--partition", "--partition-range")


def install() -> None:
    """Silence the known notices; show user errors as one line, every other uncaught exception
    as before."""
    # The klines checks are evaluated per partition (a day's check result belongs to that day),
    # which Dagster 1.13 marks as preview. Exactly that notice is silenced.
    warnings.filterwarnings(
        "ignore",
        message="Specifying a partitions_def on an AssetCheckSpec",
        category=dg.PreviewWarning,
    )
    if getattr(sys.excepthook, "__module__", None) != __name__:
        previous = sys.excepthook

        def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
            message = user_message(error, sys.argv)
            if message is None:
                previous(kind, error, tb)
            else:
                print(f"error: {message}", file=sys.stderr)

        sys.excepthook = hook


def user_message(error: BaseException, argv: Sequence[str]) -> str | None:
    """The one line for a user error anywhere in `error`'s chain, else None."""
    for cause in _chain(error):
        if isinstance(cause, ConfigError):
            return str(cause)
        if isinstance(cause, dg.DagsterInvalidSubsetError | dg.DagsterUnknownPartitionError):
            quoted = _QUOTED_KEY.search(str(cause))
            if quoted is not None:
                keys = [quoted[1], *_partition_arguments(argv)]
                return _partition_message(keys, argv)
    return None


def _partition_message(keys: Sequence[str], argv: Sequence[str]) -> str | None:
    try:
        settings = config.load()
    except ConfigError as e:
        return str(e)
    today = datetime.now(UTC).date()
    endpoint = Endpoint.UIKLINES if Endpoint.UIKLINES.value in _selected(argv) else Endpoint.KLINES
    group = _named_group(argv, settings.groups)
    for key in keys:
        problem = key_problem(key, settings, today, endpoint, group)
        if problem is not None:
            return problem
    # Every key is a partition: a range whose two ends differ in series, or run backwards.
    problem = (
        f"partition range {'...'.join(keys[1:])!r} is invalid: both ends must be of the same "
        "series, the earlier day first (FIRST...LAST)"
    )
    home = next(filter(None, (group_of(key, settings) for key in keys)), None)
    if group is None and home is not None:  # the asset chosen some other way: say where it is
        if not any(a.partition("=")[0] == "--partition-range" for a in argv):
            return (
                f"partition key {keys[0]!r} is not a partition of the selected asset: its "
                f"series is in group {home.name!r} (select {home.selection})"
            )
        return f"{problem}; {keys[0]!r} is in group {home.name!r} (select {home.selection})"
    return problem


def _partition_arguments(argv: Sequence[str]) -> Iterator[str]:
    """The keys given as `--partition K`, `--partition-range A...B` or `--option=value`."""
    for i, argument in enumerate(argv):
        name, equals, value = argument.partition("=")
        if name not in _PARTITION_OPTIONS:
            continue
        if not equals:
            value = argv[i + 1] if i + 1 < len(argv) else ""
        yield from value.split("...") if name == "--partition-range" else [value]


def _selected(argv: Sequence[str]) -> list[str]:
    """The assets `--select` (dagster) or `--assets` (dg) names."""
    for i, argument in enumerate(argv):
        name, equals, value = argument.partition("=")
        if name in ("--select", "--assets"):
            chosen = value if equals else (argv[i + 1] if i + 1 < len(argv) else "")
            return [part.strip() for part in chosen.split(",")]
    return []


def _named_group(argv: Sequence[str], groups: Sequence[SeriesGroup]) -> SeriesGroup | None:
    """The group whose klines the command names: as an asset (`majors/klines`, also inside a
    selection such as `key:majors/klines`) or by its jobs (`majors_klines_job`)."""
    words = {
        word.strip().strip("'\"").removeprefix("key:").strip("'\"")
        for argument in argv
        for part in argument.split("=")
        for word in part.split(",")
    }
    for group in groups:
        names = {group.selection, group.prefixed("klines_job"), group.prefixed("klines_checks")}
        if words & names:
            return group
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
