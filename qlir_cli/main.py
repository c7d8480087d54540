"""`qlir`: the command group. Each domain adds its own subcommand group here.

Exit codes: 0 done, 2 a usage error (a bad argument or option), 1 a failure (a setting that does
not load, a server that cannot be reached, nothing stored). A user error is one line on stderr,
`error: …`, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import click

from qlir_core.errors import QlirError

USAGE_ERROR = 2
FAILURE = 1

# Each subcommand: its name and where it is defined (module, attribute). A module is imported
# only when its command runs (or `qlir --help` lists them all), so `qlir series list` does not
# pay for matplotlib or Dagster.
COMMANDS = {
    "studies": ("qlir_cli.studies", "studies"),
    "series": ("qlir_cli.series", "series"),
    "plot": ("qlir_cli.plot", "plot"),
    "metrics": ("qlir_cli.metrics", "metrics"),
    "health": ("qlir_cli.health", "health"),
}


class _LazyGroup(click.Group):
    """A group whose subcommands are the entries of COMMANDS, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module, attribute = COMMANDS[name]
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module}.{attribute} is not a click command")
            self.add_command(command, name)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """qlir from a shell: user studies, series discovery and coverage, candle charts."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `qlir` with `argv` (default: the process's arguments); the exit code."""
    try:
        code = cli.main(args=argv, prog_name="qlir", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # `qlir studies`: the group's help
        click.echo(e.ctx.get_help() if e.ctx else e.format_message())
        return USAGE_ERROR
    except click.UsageError as e:  # the valid form is in the command's help
        where = f" (see {e.ctx.command_path} --help)" if e.ctx is not None else ""
        return _error(e.format_message().rstrip(".") + where, USAGE_ERROR)
    except click.ClickException as e:
        return _error(e.format_message(), e.exit_code)
    except click.Abort:
        return _error("aborted", FAILURE)
    except QlirError as e:  # a bad setting, an unreachable server, a broken user study
        return _error(str(e), FAILURE)
    return code if isinstance(code, int) else 0


def _error(message: str, code: int) -> int:
    """One line, whatever the message held."""
    click.echo("error: " + " ".join(message.split()), err=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
