"""Settings read once when the definitions load: `qlir.toml`, each key overridable by a
QLIR_* environment variable. A bad value fails the load with the variable and value named."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from qlir_core.errors import ConfigError
from qlir_core.ingest import SourceMode
from qlir_core.series import Series, parse_series_list
from qlir_core.sources import archive, rest

T = TypeVar("T")
CONFIG_FILE_VAR = "QLIR_CONFIG"
DEFAULT_CONFIG = Path("qlir.toml")


@dataclass(frozen=True)
class Settings:
    series: tuple[Series, ...]
    start_date: date
    data_root: str
    source: SourceMode
    rest_url: str
    archive_url: str


# setting name → (environment variable, parser, default)
_FIELDS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "series": (
        "QLIR_SERIES",
        lambda v: tuple(parse_series_list(v)),
        "BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1m",
    ),
    "start_date": ("QLIR_START_DATE", lambda v: _past_date(v), "2024-01-01"),
    "data_root": ("QLIR_DATA_ROOT", lambda v: _non_empty(v), "./data"),
    "source": ("QLIR_SOURCE", lambda v: _source_mode(v), "auto"),
    "rest_url": ("QLIR_BINANCE_REST_URL", lambda v: _url(v), rest.DEFAULT_URL),
    "archive_url": ("QLIR_BINANCE_ARCHIVE_URL", lambda v: _non_empty(v), archive.DEFAULT_URL),
}
_FILE_KEYS = {"rest_url": "binance_rest_url", "archive_url": "binance_archive_url"}


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the config file and the environment (the environment wins)."""
    env = os.environ if env is None else env
    file_values = _read_file(Path(env.get(CONFIG_FILE_VAR, DEFAULT_CONFIG)), env)
    values = {}
    for name, (var, parse, default) in _FIELDS.items():
        if env.get(var, "").strip():
            where, raw = var, env[var]
        else:
            key = _FILE_KEYS.get(name, name)
            where, raw = f"{key} in the config file", file_values.get(key, default)
            if isinstance(raw, list):
                raw = ",".join(map(str, raw))
        try:
            values[name] = parse(str(raw))
        except (ValueError, ConfigError) as e:
            raise ConfigError(f"{where}={raw!r} is invalid: {e}") from None
    return Settings(**values)


def _read_file(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    if not path.exists():
        if CONFIG_FILE_VAR in env:
            raise ConfigError(f"{CONFIG_FILE_VAR}={str(path)!r}: no such file")
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None


def _past_date(text: str) -> date:
    day = date.fromisoformat(text.strip())
    if day > datetime.now(UTC).date():
        raise ValueError("the start date is in the future")
    return day


def _source_mode(text: str) -> SourceMode:
    try:
        return SourceMode(text.strip().lower())
    except ValueError:
        raise ValueError(f"expected one of {', '.join(m.value for m in SourceMode)}") from None


def _non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("empty")
    return text.strip()


def _url(text: str) -> str:
    if not text.strip().startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return text.strip().rstrip("/")
