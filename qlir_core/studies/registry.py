"""Studies registered by name. Every registered study becomes a Dagster asset, partitioned by
series, that reads the series' whole stored history and writes the tables it returns.

A study is a function `(candles, series, *, param=default, ...) -> StudyResult`; its keyword
parameters (with their defaults) are what a run can configure, declared to the orchestrator as
one pydantic model (`Study.parameters_model`) so a bad name or type is refused before a run.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd
import pydantic

from qlir_core.series import Series


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

    @property
    def description(self) -> str:
        return (inspect.getdoc(self.function) or self.name).splitlines()[0]

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


def study(name: str) -> Callable[[StudyFunction], StudyFunction]:
    """Register a study function under `name` (the asset's name)."""

    def register(function: StudyFunction) -> StudyFunction:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"a study named {name!r} is already registered")
        _REGISTRY[name] = Study(name, function)
        return function

    return register


def registered() -> list[Study]:
    """Every registered study by name (importing `qlir_core.studies` registers the built-ins)."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
