"""`qlir studies list` and `qlir studies new NAME`: the registered studies, and a new user
study scaffolded in the user's studies folder (the `studies_path` setting)."""

from __future__ import annotations

import json
import keyword
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from qlir_cli import scaffold, settings
from qlir_core.studies.registry import (
    Study,
    builtin_studies,
    load_user_studies,
    user_study_files,
)

# Asset names the code location already has besides the studies.
_RESERVED = frozenset({"klines", "signals"})


@click.group()
def studies() -> None:
    """The studies: every one is a Dagster asset partitioned by series."""


@studies.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per study, for scripts")
def list_studies(as_json: bool) -> None:
    """Every registered study, built-in and the user's: description, parameters, file."""
    folder = Path(settings.load().studies_path)
    found = {s.name: s for s in [*builtin_studies(), *load_user_studies(folder)]}
    rows = [_row(found[name]) for name in sorted(found)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))  # any default, even an enum
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['description']}")
        params = ", ".join(f"{k}={v!r}" for k, v in r["parameters"].items()) or "none"
        click.echo(f"{'':<{width}}  parameters: {params}")
        click.echo(f"{'':<{width}}  file: {r['file']}")


@studies.command("new")
@click.argument("name")
def new_study(name: str) -> None:
    """Scaffold the user study NAME (a Python identifier) and its test in the studies folder.

    The next definitions load makes NAME an asset, partitioned by series like the built-ins.
    """
    folder = Path(settings.load().studies_path)
    problem = _name_problem(name, folder)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="NAME")
    module, test = scaffold.write_study(folder, name)
    click.echo(f"wrote {module} (the study {name}) and {test} (its test: pytest {test})")
    click.echo(
        f"materialize it: dagster asset materialize -m qlir_dagster.definitions --select {name} "
        "--partition BTCUSDT-1m"
    )


def _name_problem(name: str, folder: Path) -> str | None:
    """Why NAME cannot be a new study, or None."""
    if not name.isidentifier() or keyword.iskeyword(name):
        return (
            f"{name!r} is not a Python identifier; expected letters, digits and _, like my_breakout"
        )
    taken = _taken_names(folder)
    if name in taken:
        return f"a study or asset named {name!r} already exists; choose another name"
    for path in (folder / f"{name}.py", folder / f"test_{name}.py"):
        if path.exists():
            return f"{path} already exists; choose another name"
    return None


def _taken_names(folder: Path) -> set[str]:
    """The built-in and reserved names and the user's study files, found without running the
    user's code (a study registered under another name than its file's is refused when the
    definitions load)."""
    names = {s.name for s in builtin_studies()} | _RESERVED
    return names | {p.stem for p in user_study_files(folder)}


def _row(study: Study) -> dict[str, Any]:
    return {
        "name": study.name,
        "description": study.description,
        "parameters": {k: _plain(v) for k, v in study.parameters.items()},
        "file": str(study.file),
    }


def _plain(value: Any) -> Any:
    """A default as JSON has it (tuples as lists)."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
