"""Studies registered by name. Every registered study becomes a Dagster asset, partitioned by
series, that reads the series' whole stored history and writes the tables it returns.

A study is a function `(candles, series, *, param=default, ...) -> StudyResult`; its keyword
parameters (with their defaults) are what a run can configure, declared to the orchestrator as
one pydantic model (`Study.parameters_model`) so a bad name or type is refused before a run.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic

from qlir_core import candles as candle_table
from qlir_core.errors import ConfigError
from qlir_core.series import Series

# User study modules are imported under this package name (`qlir_user_studies.my_breakout`).
USER_PACKAGE = "qlir_user_studies"


@dataclass(frozen=True)
class StudyResult:
    """What a study hands back: tables to store, PNG charts, and headline numbers."""

    tables: Mapping[str, pd.DataFrame]
    summary: pd.DataFrame  # the one table worth showing beside the run
    headline: Mapping[str, float] = field(default_factory=dict)
    charts: Mapping[str, bytes] = field(default_factory=dict)


StudyFunction = Callable[..., StudyResult]


@dataclass(frozen=True)
class Study:
    name: str
    function: StudyFunction
    # The candle columns it reads besides open_time (which every study gets); None: all of them.
    columns: tuple[str, ...] | None = None

    @property
    def description(self) -> str:
        return (inspect.getdoc(self.function) or self.name).splitlines()[0]

    @property
    def file(self) -> Path:
        """The file that defines the study function."""
        return Path(inspect.getfile(self.function)).resolve()

    @property
    def parameters(self) -> dict[str, Any]:
        """The configurable keyword parameters and their defaults."""
        return {p.name: p.default for p in self._keyword_parameters()}

    @cached_property
    def parameters_model(self) -> type[pydantic.BaseModel]:
        """The keyword parameters as a pydantic model: one field per parameter, its type and
        default. A `Sequence[T]` parameter is a `list[T]` field (run config is plain data)."""
        hints = typing.get_type_hints(self.function)
        fields: dict[str, Any] = {
            p.name: _field(hints[p.name], p.default) for p in self._keyword_parameters()
        }
        model = pydantic.create_model(
            _model_name(self.name), __config__=pydantic.ConfigDict(extra="forbid"), **fields
        )
        return typing.cast(type[pydantic.BaseModel], model)

    def run(
        self, candles: pd.DataFrame, series: Series, params: Mapping[str, Any] | None = None
    ) -> StudyResult:
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            known = ", ".join(self.parameters) or "none"
            raise ValueError(f"{self.name}: unknown parameter(s) {unknown}; known: {known}")
        return self.function(candles, series, **params)

    def _keyword_parameters(self) -> list[inspect.Parameter]:
        signature = inspect.signature(self.function)
        return [
            p for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]


def _field(hint: Any, default: Any) -> tuple[Any, Any]:
    if typing.get_origin(hint) is Sequence:
        (item,) = typing.get_args(hint)
        return list[item], list(default)  # type: ignore[valid-type]
    return hint, default


def _model_name(study_name: str) -> str:
    """`sma_study` → `SmaStudyParameters`."""
    return "".join(part.capitalize() for part in study_name.split("_")) + "Parameters"


_REGISTRY: dict[str, Study] = {}


def study(
    name: str, *, columns: Sequence[str] | None = None
) -> Callable[[StudyFunction], StudyFunction]:
    """Register a study function under `name` (the asset's name). `columns` names the candle
    columns it reads (open_time always comes too), so only those are read from storage; by
    default it gets every column."""
    if columns is not None:
        unknown = [c for c in columns if c not in candle_table.COLUMNS]
        if unknown:
            raise ValueError(
                f"study {name!r}: {unknown} are not candle columns; the columns are "
                + ", ".join(candle_table.COLUMNS)
            )
        columns = tuple(c for c in candle_table.COLUMNS if c in columns and c != "open_time")

    def register(function: StudyFunction) -> StudyFunction:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"a study named {name!r} is already registered")
        _REGISTRY[name] = Study(name, function, columns)
        return function

    return register


def registered() -> list[Study]:
    """Every registered study by name (importing `qlir_core.studies` registers the built-ins,
    `load_user_studies` the user's)."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def builtin_studies() -> list[Study]:
    """The registered studies that are not from a user's studies folder."""
    return [s for s in registered() if not s.function.__module__.startswith(USER_PACKAGE + ".")]


class UserStudyError(ConfigError):
    """A user study module that cannot be loaded; the message names its file."""


def user_study_files(folder: Path) -> list[Path]:
    """The study modules of a user's studies folder: `*.py` but not tests or `_private`."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith(("test_", "_")))


def load_user_studies(folder: Path) -> list[Study]:
    """Import every study module of `folder` (registering its studies); the studies they
    registered. A module that fails to import, or registers a name already taken, raises
    UserStudyError naming the file. Loading the same folder again re-imports its modules."""
    loaded: list[Study] = []
    for path in user_study_files(folder.resolve()):
        module_name = f"{USER_PACKAGE}.{path.stem}"
        if not path.stem.isidentifier():
            raise UserStudyError(
                f"user study {path}: the file name must be a Python identifier (like "
                "my_breakout.py)"
            )
        # A reload (the code location loads again in this process) replaces its own studies.
        for name in [n for n, s in _REGISTRY.items() if s.function.__module__ == module_name]:
            del _REGISTRY[name]
        before = set(_REGISTRY)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise UserStudyError(f"user study {path}: not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # anything the user's code raises: the load names the file
            del sys.modules[module_name]
            raise UserStudyError(
                f"user study {path} failed to import: {_described(e, path)}"
            ) from e
        loaded.extend(_REGISTRY[name] for name in sorted(set(_REGISTRY) - before))
    return loaded


def _described(error: Exception, path: Path) -> str:
    """`NameError: name 'x' is not defined (line 12)`: the error and its line in the file."""
    line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno  # the innermost line of the user's file
    where = "" if line is None else f" (line {line})"
    return f"{type(error).__name__}: {error}{where}"
