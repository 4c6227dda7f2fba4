"""The `featurelens` command: subcommands are verbs; user mistakes exit 2 with one line on stderr."""

from __future__ import annotations

import sys

import typer

from featurelens.cli import (
    dream_command,
    examples_command,
    invert_command,
    layers_command,
    overview_command,
    project_command,
    render_command,
)
from featurelens.errors import FeaturelensError

app = typer.Typer(
    name="featurelens",
    help="See what each unit of a trained PyTorch network responds to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("layers")(layers_command.layers)
app.command("render")(render_command.render)
app.command("overview")(overview_command.overview)
app.command("project")(project_command.project)
app.command("examples")(examples_command.examples)
app.command("dream")(dream_command.dream)
app.add_typer(invert_command.invert_app, name="invert")


def main() -> None:
    """Entry point: run the app, turning FeaturelensError into one red line and exit code 2."""
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code instead of raising in this mode
    except FeaturelensError as err:
        print_error(str(err))
        sys.exit(2)
    except typer.Abort:
        print_error("interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        print_error("interrupted")
        sys.exit(130)
    except (typer.Exit, SystemExit) as done:
        code = getattr(done, "exit_code", getattr(done, "code", 0))
        sys.exit(code or 0)
    except Exception as err:  # click usage errors carry their own formatting
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(err.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


def print_error(message: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {message}", markup=True)
