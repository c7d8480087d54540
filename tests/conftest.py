"""Shared fixtures: the real Binance sample data beside the checkout."""

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "binance"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """`../shared/data/binance`; skipped when absent, unless QLIR_REQUIRE_REAL_DATA=1."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("QLIR_REQUIRE_REAL_DATA") == "1":
            pytest.fail(f"QLIR_REQUIRE_REAL_DATA=1 but {SHARED_DATA} does not exist")
        pytest.skip(f"real Binance data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mirror(real_data: Path) -> Path:
    return real_data / "mirror"


def away_from_midnight(after: timedelta, before: timedelta) -> datetime:
    """Now (UTC), once at least `after` of today has passed and at least `before` of it remains,
    sleeping until then: a test of today's partial day must not see the day close, nor start
    before the day has the candles it needs."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - midnight < after:
        time.sleep((midnight + after - now).total_seconds())
    elif midnight + timedelta(days=1) - now < before:
        time.sleep((midnight + timedelta(days=1) + after - now).total_seconds())
    return datetime.now(UTC)


def mirror_days(mirror: Path) -> list[tuple[str, str]]:
    """(series key, day) for every zip in the mirror."""
    out = []
    for z in sorted(mirror.glob("data/spot/daily/klines/*/*/*.zip")):
        symbol, interval, *ymd = z.stem.split("-")
        out.append((f"{symbol}-{interval}", "-".join(ymd)))
    return out


def files_under(path: Path) -> list[Path]:
    """Every file below `path` (none if it does not exist)."""
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def shipped_home(home: Path) -> Path:
    """A Dagster home with the repo's dagster.yaml, its databases created once (as the scripts do)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home


@contextmanager
def shipped_instance() -> Iterator[dg.DagsterInstance]:
    """The instance of a new Dagster home with the shipped dagster.yaml, as users run it."""
    with (
        tempfile.TemporaryDirectory(prefix="qlir-home-") as home,
        dg.DagsterInstance.from_config(str(shipped_home(Path(home)))) as instance,
    ):
        yield instance
