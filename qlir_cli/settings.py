"""The settings every command reads: qlir.toml (or QLIR_CONFIG) and the QLIR_* variables, the
same ones the Dagster definitions load."""

from __future__ import annotations

import os
from pathlib import Path

from qlir_dagster import config
from qlir_dagster.config import Settings

__all__ = ["Settings", "config_file", "load"]


def load() -> Settings:
    """The settings; a ConfigError (one line per bad setting) if they do not load."""
    return config.load()


def config_file() -> Path:
    """The settings file: `QLIR_CONFIG`, else `./qlir.toml`."""
    return Path(os.environ.get(config.CONFIG_FILE_VAR, config.DEFAULT_CONFIG))
