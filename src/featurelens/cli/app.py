"""The `featurelens` command: subcommands are verbs; user mistakes exit 2 with one line on stderr.

Usage mistakes (an unknown command or option, a missing argument, a value of the wrong type) get
typer's usage message and exit 2; a `FeaturelensError` from the library is printed exactly as
written, with its parameter named as the flag (`steps` → `--steps`).
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from featurelens.cli import (
    atlas_command,
    dictionary_command,
    dream_command,
    evolve_command,
    examples_command,
    find_command,
    invert_command,
    layers_command,
    map_command,
    music_command,
    overview_command,
    project_command,
    render_command,
    samples_command,
    serve_command,
)
from featurelens.cli.help_examples import epilog
from featurelens.errors import FeaturelensError

app = typer.Typer(
    name="featurelens",
    help="See what each unit of a trained PyTorch network responds to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    epilog=epilog(""),
)
app.command("layers", epilog=epilog("layers"))(layers_command.layers)
app.command("render", epilog=epilog("render"))(render_command.render)
app.command("overview", epilog=epilog("overview"))(overview_command.overview)
app.command("project", epilog=epilog("project"))(project_command.project)
app.command("examples", epilog=epilog("examples"))(examples_command.examples)
app.command("dream", epilog=epilog("dream"))(dream_command.dream)
app.command("serve", epilog=epilog("serve"))(serve_command.serve)
app.command("evolve", epilog=epilog("evolve"))(evolve_command.evolve)
app.command("atlas", epilog=epilog("atlas"))(atlas_command.atlas)
app.command("samples", epilog=epilog("samples"))(samples_command.samples)
app.command("map", epilog=epilog("map"))(map_command.activation_map)
app.command("find", epilog=epilog("find"))(find_command.find)
app.command("dictionary", epilog=epilog("dictionary"))(dictionary_command.dictionary)
app.add_typer(invert_command.invert_app, name="invert")
app.add_typer(music_command.music_app, name="music")


def main() -> None:
    """Entry point: typer handles usage errors (exit 2) and Ctrl-C (exit 130); library errors print one line and exit 2."""
    try:
        app()
    except FeaturelensError as err:
        print_error(cli_message(err))
        sys.exit(2)


def cli_message(err: FeaturelensError) -> str:
    """The error's message with its parameter written as the command line's flag."""
    return err.message("--" + err.parameter.replace("_", "-")) if err.parameter else err.message()


def print_error(message: str) -> None:
    """One red 'error:' and the message exactly as written (no markup: brackets such as [timm] survive)."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text.assemble(("error:", "red"), " ", message))
