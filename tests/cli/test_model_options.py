"""Every command that loads a model takes the options that shape it: --device, --layout and (where units are read)
--dictionary, so a layout or a dictionary set for one verb is never missing from another."""

from __future__ import annotations

import inspect

from featurelens.cli.app import app

# `dictionary` learns one (its layer is a model layer, not another dictionary); `samples` loads no model of the user's.
NO_DICTIONARY = {"dictionary"}
NO_MODEL = {"samples"}


def commands() -> dict[str, set[str]]:
    """{command name: the names of its options}, for the top-level commands."""
    found = {}
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        found[name] = {param.default.param_decls[0] for param in inspect.signature(command.callback).parameters.values()
                       if hasattr(param.default, "param_decls") and param.default.param_decls}
    return found


def test_every_model_command_takes_device_layout_and_dictionary() -> None:
    found = {name: options for name, options in commands().items() if "--model" in options and name not in NO_MODEL}
    assert {"render", "examples", "find", "map", "dictionary", "atlas", "serve"} <= found.keys()
    for name, options in found.items():
        assert {"--device", "--layout"} <= options, name
        if name not in NO_DICTIONARY:
            assert "--dictionary" in options, name
