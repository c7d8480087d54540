"""Settings read once when the definitions load: `qlir.toml` (or the file `QLIR_CONFIG` names),
each key overridable by its QLIR_* environment variable. A bad value fails the load with one
message naming the variable or file key, the value, and what is expected."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, InstanceOf, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    SettingsConfigDict,
)

from qlir_core import budget_store, s3
from qlir_core.binance import Endpoint
from qlir_core.errors import ConfigError
from qlir_core.ingest import SourceMode
from qlir_core.logs import LogSettings, Profile, Split
from qlir_core.series import Series, parse_series_list
from qlir_core.sources import archive, rest
from qlir_dagster.groups import SeriesGroup, parse_groups

CONFIG_FILE_VAR = "QLIR_CONFIG"
DEFAULT_CONFIG = Path("qlir.toml")
ENV_PREFIX = "QLIR_"


class Settings(BaseSettings):
    """A field's file key is its name; its variable is QLIR_ + the name in capitals."""

    # validate_default: the defaults go through the same parsing as a set value.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_default=True
    )

    # NoDecode: the variable is a comma-separated list, not JSON.
    series: Annotated[tuple[InstanceOf[Series], ...], NoDecode] = tuple(
        parse_series_list("BTCUSDT-1m,ETHUSDT-1m,SOLUSDT-1m")
    )
    # The series split into named groups, each with its own assets (qlir_dagster.groups); when
    # set, `series` is every group's series and is not set itself. Empty: one unnamed group.
    groups: Annotated[tuple[InstanceOf[SeriesGroup], ...], NoDecode] = ()
    # The series also kept from uiKlines (REST only), as the `uiklines` dataset and asset.
    uiklines_series: Annotated[tuple[InstanceOf[Series], ...], NoDecode] = ()
    start_date: date = date(2024, 1, 1)
    data_root: str = "./data"
    source: SourceMode = SourceMode.AUTO
    binance_rest_url: str = rest.DEFAULT_URL
    binance_archive_url: str = archive.DEFAULT_URL
    # Where the request-weight budget is shared (qlir_core.budget_store): `file` (this machine)
    # or redis://host:port/db (every worker that reaches the server).
    budget_store: str = budget_store.FILE
    # Where alerts are POSTed as JSON (`QLIR_ALERT_WEBHOOK`); unset: run log and check only.
    alert_webhook: str | None = None
    # The user's own studies (`qlir studies new`): every module there is loaded with the code
    # location, each study in it an asset. Relative to the working directory, like data_root.
    studies_path: str = "./studies"
    # Logging (qlir_core.logs): the profile, the JSON-lines log folder (None: <DAGSTER_HOME>/logs,
    # else ./logs; "off": no file) and an optional split into one file per series.
    log_profile: Profile = Profile.QLIR_INFO
    log_dir: str | None = None
    log_split: Split = Split.NONE
    # Partitions of a run fetched at once: their network waits overlap; the request-weight
    # budget still paces every REST request.
    fetch_workers: Annotated[int, Field(ge=1, le=64)] = 8
    # Worker processes a ranged run of many partitions fetches, validates and publishes in, so
    # that recording each partition in Dagster overlaps the work (0: all in the run's process).
    fetch_processes: Annotated[int, Field(ge=0, le=64)] = 2

    @field_validator("series", mode="before")
    @classmethod
    def _series(cls, value: object) -> tuple[Series, ...]:
        """A comma-separated string (variable) or a list of keys (file)."""
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        return tuple(parse_series_list(text))

    @field_validator("uiklines_series", mode="before")
    @classmethod
    def _endpoint_series(cls, value: object) -> tuple[Series, ...]:
        """Like `series`; empty (the default) keeps no uiklines dataset."""
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        return tuple(parse_series_list(text)) if text.strip() else ()

    @field_validator("groups", mode="before")
    @classmethod
    def _groups(cls, value: object) -> tuple[SeriesGroup, ...]:
        return parse_groups(value)

    @model_validator(mode="before")
    @classmethod
    def _series_of_groups(cls, data: Any) -> Any:
        """With groups, `series` is every group's series, in order."""
        if not isinstance(data, dict) or not data.get("groups"):
            return data
        try:
            groups = parse_groups(data["groups"])
        except ValueError:
            return data  # named by the field's own validator
        if not groups:
            return data
        if "series" in data:
            raise ValueError(
                "both series (QLIR_SERIES, or series in the file) and groups (QLIR_GROUPS, or "
                "[groups] in the file) are set; expected one of them: the groups hold every "
                "series, so remove series"
            )
        return data | {"groups": groups, "series": [s.key for g in groups for s in g.series]}

    @property
    def series_groups(self) -> tuple[SeriesGroup, ...]:
        """The groups, or the one unnamed group of every series."""
        return self.groups or (SeriesGroup(None, self.series),)

    def series_of(self, endpoint: Endpoint) -> tuple[Series, ...]:
        """The series kept from `endpoint`."""
        return self.series if endpoint is Endpoint.KLINES else self.uiklines_series

    @field_validator("start_date", mode="before")
    @classmethod
    def _past_date(cls, value: object) -> date:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError as e:
            raise ValueError(f"{e}; expected a date as YYYY-MM-DD") from None
        if day > datetime.now(UTC).date():
            raise ValueError("the start date is in the future")
        return day

    @field_validator("source", mode="before")
    @classmethod
    def _source_mode(cls, value: object) -> SourceMode:
        if isinstance(value, SourceMode):
            return value
        try:
            return SourceMode(str(value).strip().lower())  # CLI/env spelling → member
        except ValueError:
            expected = ", ".join(m.value for m in SourceMode)
            raise ValueError(f"expected one of {expected}") from None

    @field_validator("log_profile", mode="before")
    @classmethod
    def _log_profile(cls, value: object) -> Profile:
        return value if isinstance(value, Profile) else Profile.parse(str(value))

    @field_validator("log_split", mode="before")
    @classmethod
    def _log_split(cls, value: object) -> Split:
        return value if isinstance(value, Split) else Split.parse(str(value))

    @property
    def logging(self) -> LogSettings:
        return LogSettings.of(self.log_profile, self.log_dir, self.log_split)

    @field_validator("data_root", "binance_archive_url", "studies_path", mode="before")
    @classmethod
    def _non_empty(cls, value: object) -> str:
        if not str(value).strip():
            raise ValueError("empty; expected a folder, an URL or s3://bucket/prefix")
        return str(value).strip()

    @field_validator("data_root")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        """A ConfigError, not a ValueError: pydantic's message would echo the secret."""
        s3.refuse_credentials(value, f"{ENV_PREFIX}DATA_ROOT (data_root)")
        return value

    @field_validator("data_root")
    @classmethod
    def _writable_folder(cls, value: str) -> str:
        """A local root must be, or be creatable in, a folder this user can write. Checked on
        disk without creating anything (a bucket is checked when a run starts)."""
        if "://" in value:
            return value
        existing = Path(value).expanduser().absolute()
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file; expected a folder or s3://bucket/prefix")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{existing} is not writable; expected a folder this user can write")
        return value

    @field_validator("alert_webhook", mode="before")
    @classmethod
    def _webhook(cls, value: object) -> str | None:
        if value is None or not str(value).strip():
            return None
        text = str(value).strip()
        if not text.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return text

    @field_validator("budget_store", mode="before")
    @classmethod
    def _budget_store(cls, value: object) -> str:
        try:
            return budget_store.store_setting(str(value))
        except ConfigError:
            raise ValueError("expected file or redis://host:port/db (rediss:// for TLS)") from None

    @field_validator("binance_rest_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> str:
        text = str(value).strip()
        if not text.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return text.rstrip("/")


class _Environment(EnvSettingsSource):
    """The QLIR_* variables of a given mapping; blank ones count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = {k: v for k, v in environ.items() if v.strip()}
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k.lower(): v for k, v in self._environ.items()}


def _file(path: Path, dropped: frozenset[str]) -> InitSettingsSource:
    """The config file's settings (none if it is absent), less the keys `dropped`."""
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return InitSettingsSource(Settings, {k: v for k, v in data.items() if k not in dropped})


# Two ways to say which series are kept: the environment's way wins over the file's other way.
_ALTERNATIVES = frozenset({"series", "groups"})


def _overridden_in_file(env: Mapping[str, str]) -> frozenset[str]:
    given = {k for k in _ALTERNATIVES if env.get(ENV_PREFIX + k.upper(), "").strip()}
    return _ALTERNATIVES - given if len(given) == 1 else frozenset()


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the config file and the environment (the environment wins)."""
    env = os.environ if env is None else env
    path = Path(env.get(CONFIG_FILE_VAR, DEFAULT_CONFIG))
    if CONFIG_FILE_VAR in env and not path.exists():
        raise ConfigError(f"{CONFIG_FILE_VAR}={str(path)!r}: no such file")
    try:
        sources = (_Environment(env), _file(path, _overridden_in_file(env)))
        # mypy sees only the fields in the model's __init__, not BaseSettings' own arguments.
        return Settings(_build_sources=(sources, {}))  # type: ignore[call-arg]
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from None
    except ValidationError as e:
        problems = [_problem(error, env, path) for error in e.errors()]
        raise ConfigError("\n".join(problems)) from None


def _problem(error: ErrorDetails, env: Mapping[str, str], path: Path) -> str:
    """`QLIR_SOURCE='x' is invalid: expected one of auto, rest, archive`."""
    cause: Any = error.get("ctx", {}).get("error")
    reason = str(cause) if isinstance(cause, Exception) else error["msg"]
    if not error["loc"]:  # a rule over several settings
        return f"settings in {path} and the environment are invalid: {reason}"
    name = str(error["loc"][0])
    variable = ENV_PREFIX + name.upper()
    where = variable if env.get(variable, "").strip() else f"{name} in {path}"
    return f"{where}={error['input']!r} is invalid: {reason}"
