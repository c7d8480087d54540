"""`qlir series discover` against qlir-sim serving an exchangeInfo body in Binance's shape:
only the symbols that pass the filters, written into qlir.toml with its comments kept."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlir_cli import discover
from qlir_core.series import Series
from qlir_dagster import config
from qlir_sim import Mirror, serve
from tests.cli.conftest import HERE, SETTINGS, exchange_info_symbols


@pytest.fixture(scope="module")
def exchange(mirror):
    with serve(Mirror(mirror), listing=exchange_info_symbols()) as url:
        yield url


def test_all_usdt_symbols_trading_on_spot_are_written_keeping_the_comments(
    project, qlir, exchange, monkeypatch
):
    monkeypatch.setenv("QLIR_BINANCE_REST_URL", exchange)
    done = qlir("series", "discover", "--quote", "USDT", "--intervals", "1m", "--write")
    assert done.code == 0, done.err
    # ETHBTC (BTC quote), BTCUSDC (USDC), LUNAUSDT (BREAK) and BNBUSDT (margin only) are out
    assert done.out.splitlines() == ["BTCUSDT-1m", "ETHUSDT-1m"]
    # the same two keys as before: the file is byte for byte what it was, comments and all
    assert (project / "qlir.toml").read_text() == SETTINGS.format(start="2023-01-01")

    done = qlir("series", "discover", "--quote", "USDT", "--intervals", "1m,1h", "--write")
    assert done.code == 0, done.err
    text = (project / "qlir.toml").read_text()
    assert tomllib.loads(text)["series"] == ["BTCUSDT-1m", "BTCUSDT-1h", "ETHUSDT-1m", "ETHUSDT-1h"]
    assert text.startswith("# The markets this project keeps.\n")
    assert "]  # edited by hand\n" in text
    assert 'data_root = "./data"  # beside this file\n' in text
    assert tomllib.loads(text)["start_date"] == "2023-01-01"


def test_the_filters_choose_the_symbols(project, qlir, exchange):
    def found(*filters: str) -> list[str]:
        done = qlir("series", "discover", "--rest-url", exchange, *filters)
        assert done.code == 0, done.err
        return done.out.splitlines()

    assert found() == ["BTCUSDC-1m", "BTCUSDT-1m", "ETHBTC-1m", "ETHUSDT-1m"]
    assert found("--quote", "BTC") == ["ETHBTC-1m"]
    assert found("--status", "BREAK") == ["LUNAUSDT-1m"]
    assert found("--permission", "MARGIN", "--quote", "USDT") == [
        "BNBUSDT-1m",
        "BTCUSDT-1m",
        "ETHUSDT-1m",
    ]
    assert len(found("--status", "any", "--permission", "any")) == 6


def test_without_write_the_settings_file_is_untouched(project, qlir, exchange):
    before = (project / "qlir.toml").read_bytes()
    assert qlir("series", "discover", "--rest-url", exchange, "--quote", "USDT").code == 0
    assert (project / "qlir.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (
            ["--rest-url", "http://127.0.0.1:9"],
            1,
            "error: GET http://127.0.0.1:9/api/v3/exchangeInfo",
        ),
        (
            ["--rest-url", "ftp://example"],
            2,
            "'ftp://example': expected an http:// or https:// URL",
        ),
        (["--intervals", "7m"], 2, "unknown interval '7m'"),
        (["--intervals", "1w"], 2, "1w does not divide a day"),
        (["--quote", "XYZ"], 1, "passes the filters"),
    ],
    ids=["unreachable", "not-http", "unknown-interval", "weekly", "nothing-found"],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(project, qlir, exchange, args, code, says):
    before = (project / "qlir.toml").read_bytes()
    url = [] if "--rest-url" in args else ["--rest-url", exchange]
    done = qlir("series", "discover", *url, *args, "--write")
    assert done.code == code
    assert says in done.one_error_line()
    assert (project / "qlir.toml").read_bytes() == before


@pytest.mark.slow
def test_qlir_sim_serves_an_exchange_info_file(project, qlir, mirror):
    """`qlir-sim --exchange-info FILE`, the local exchange as a user starts it."""
    command = [str(Path(sys.executable).parent / "qlir-sim"), "--mirror", str(mirror)]
    command += ["--exchange-info", str(HERE / "exchange_info.json")]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as sim:
        try:
            assert sim.stdout is not None
            url = sim.stdout.readline().strip()
            done = qlir("series", "discover", "--rest-url", url, "--quote", "USDT", "--write")
        finally:
            sim.terminate()
    assert done.code == 0, done.err
    assert tomllib.loads((project / "qlir.toml").read_text())["series"] == [
        "BTCUSDT-1m",
        "ETHUSDT-1m",
    ]


def test_qlir_sim_refuses_a_file_that_is_not_exchange_info(tmp_path, mirror):
    bad = tmp_path / "info.json"
    bad.write_text('{"symbols": "BTCUSDT"}')
    command = [str(Path(sys.executable).parent / "qlir-sim"), "--mirror", str(mirror)]
    done = subprocess.run(
        [*command, "--exchange-info", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "not an exchangeInfo body" in done.stderr


def test_group_size_writes_groups_the_definitions_load(project, qlir, exchange, monkeypatch):
    monkeypatch.setenv("QLIR_BINANCE_REST_URL", exchange)
    found = ("series", "discover", "--quote", "USDT", "--intervals", "1m,1h", "--write")
    done = qlir(*found, "--group-size", "3")
    assert done.code == 0, done.err
    assert "wrote 4 series in 2 groups" in done.err
    text = (project / "qlir.toml").read_text()
    assert "series =" not in text
    assert tomllib.loads(text)["groups"] == {
        "g00": ["BTCUSDT-1m", "BTCUSDT-1h", "ETHUSDT-1m"],
        "g01": ["ETHUSDT-1h"],
    }
    assert 'data_root = "./data"  # beside this file\n' in text
    settings = config.load({"QLIR_CONFIG": str(project / "qlir.toml")})
    assert [g.name for g in settings.series_groups] == ["g00", "g01"]

    # Written again with 1h only, after comments were added by hand: the series left keep
    # their groups, and the comments stay.
    text = text.replace("[groups]\n", "[groups]  # by discover\n# the first group\n")
    (project / "qlir.toml").write_text(text + "# the end\n")
    done = qlir(
        "series", "discover", "--quote", "USDT", "--intervals", "1h", "--write", "--group-size", "3"
    )
    assert done.code == 0, done.err
    text = (project / "qlir.toml").read_text()
    assert tomllib.loads(text)["groups"] == {"g00": ["BTCUSDT-1h"], "g01": ["ETHUSDT-1h"]}
    assert "[groups]  # by discover\n# the first group\n" in text
    assert text.endswith("# the end\n")

    # A smaller size splits a group that is too large; its first series stay.
    assert qlir(*found, "--group-size", "3").code == 0
    groups = tomllib.loads((project / "qlir.toml").read_text())["groups"]
    assert groups == {"g00": ["BTCUSDT-1h", "BTCUSDT-1m", "ETHUSDT-1m"], "g01": ["ETHUSDT-1h"]}
    done = qlir(*found, "--group-size", "1")
    assert done.code == 0, done.err
    groups = tomllib.loads((project / "qlir.toml").read_text())["groups"]
    assert groups == {
        "g00": ["BTCUSDT-1h"],
        "g01": ["ETHUSDT-1h"],
        "g02": ["BTCUSDT-1m"],
        "g03": ["ETHUSDT-1m"],
    }

    # A plain --write would put a series list beside the groups: refused, the file untouched.
    before = (project / "qlir.toml").read_bytes()
    done = qlir(*found)
    assert done.code == 1
    assert "keeps its series in [groups]; expected --group-size N" in done.one_error_line()
    assert (project / "qlir.toml").read_bytes() == before


def test_group_size_without_write_is_refused(project, qlir, exchange):
    done = qlir("series", "discover", "--rest-url", exchange, "--group-size", "3")
    assert done.code == 2
    assert "--group-size" in done.one_error_line()


KEYS = st.lists(
    st.sampled_from([f"S{i:02d}USDT-1m" for i in range(30)]), unique=True, max_size=30
).map(lambda keys: [Series.parse(k) for k in keys])


@given(before=KEYS, after=KEYS, first=st.integers(1, 8), size=st.integers(1, 8))
def test_regrouping_keeps_every_series_in_its_group(before, after, first, size):
    existing = discover.regrouped({}, before, first)
    groups = discover.regrouped(existing, after, size)
    members = [s for g in groups.values() for s in g]
    assert sorted(members, key=str) == sorted(after, key=str)  # each series once
    assert all(0 < len(g) <= size for g in groups.values())
    # A series stays in its group unless the group's first `size` series left do not hold it.
    wanted = set(after)
    for name, old in existing.items():
        for s in [s for s in old if s in wanted][:size]:
            assert s in groups[name]
