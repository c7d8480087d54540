"""The `qlir` script: help on every command, exit codes, usage errors as one line."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from qlir_cli.main import cli
from tests.cli.conftest import qlir_process


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under `group`, groups included."""
    out = []
    with click.Context(group) as ctx:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            out.append((*prefix, name))
            if isinstance(command, click.Group):
                out.extend(commands(command, (*prefix, name)))
    return out


def test_a_command_imports_only_its_own_module(project):
    probe = "import sys; from qlir_cli.main import main; main(['series', '--help']); "
    probe += "print(sorted(m for m in sys.modules if m.startswith('qlir_cli.')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = done.stdout.strip().splitlines()[-1]
    assert "'qlir_cli.series'" in loaded
    assert "qlir_cli.plot" not in loaded
    assert "qlir_cli.health" not in loaded


def test_the_installed_script_runs(project):
    done = qlir_process("--help")
    assert done.code == 0, done.err
    assert "studies" in done.out
    assert "series" in done.out
    assert "plot" in done.out


@pytest.mark.parametrize("path", [(), *commands(cli)], ids=lambda p: " ".join(p) or "qlir")
def test_every_command_has_help(qlir, path):
    done = qlir(*path, "--help")
    assert done.code == 0, done.err
    assert done.out.startswith("Usage: qlir")
    assert done.err == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nonsense"], "error: No such command 'nonsense' (see qlir --help)"),
        (
            ["studies", "list", "--colour"],
            "No such option '--colour' (see qlir studies list --help)",
        ),
        (["studies", "new"], "error: Missing argument 'NAME' (see qlir studies new --help)"),
        (
            ["series", "list", "--jsn"],
            "No such option '--jsn'. Did you mean '--json'? (see qlir series list --help)",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(project, qlir, args, says):
    done = qlir(*args)
    assert done.code == 2
    assert says in done.one_error_line()


def test_a_group_alone_shows_its_help(qlir):
    done = qlir("series")
    assert done.code == 2
    assert "discover" in done.out
    assert "list" in done.out
