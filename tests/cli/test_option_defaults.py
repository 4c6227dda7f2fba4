"""Each option is defined once: a command's option that names a field of its settings dataclass has that field's
default (the CLI reads it from the dataclass, so `fl.render(...)` and `featurelens render` do the same work).
`music make` keeps its literals: its settings live beside the synthesizer, which a fresh install without the audio
extra cannot import, and every command imports every command module."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from featurelens.activation_map.settings import MapSettings
from featurelens.atlas.settings import AtlasSettings
from featurelens.cli import (
    atlas_command, dictionary_command, dream_command, evolve_command, examples_command, find_command, invert_command,
    map_command, render_command, serve_command,
)
from featurelens.concepts.find import FindSettings
from featurelens.dataset_examples.api import ExamplesSettings
from featurelens.deepdream.deepdream import DreamSettings
from featurelens.dictionary.api import DictionarySettings
from featurelens.evolution.evolve import EvolveSettings
from featurelens.invert.training import TrainSettings
from featurelens.rendering.settings import RenderSettings
from featurelens.server.limits import ServerLimits

COMMANDS = [
    (render_command.render, RenderSettings), (dream_command.dream, DreamSettings), (map_command.activation_map, MapSettings),
    (examples_command.examples, ExamplesSettings), (evolve_command.evolve, EvolveSettings), (find_command.find, FindSettings),
    (dictionary_command.dictionary, DictionarySettings), (atlas_command.atlas, AtlasSettings),
    (invert_command.train, TrainSettings), (serve_command.serve, ServerLimits),
]


def as_cli_text(value):
    """How the command line writes a settings value: text for a size or a count ("auto", "16"), "" for no judges."""
    if value is None or value == ():
        return {None: "auto", (): ""}[value]
    return str(value) if isinstance(value, (int, Path)) and not isinstance(value, bool) else value


@pytest.mark.parametrize(("command", "settings"), COMMANDS, ids=[c.__name__ for c, _ in COMMANDS])
def test_an_option_named_as_a_setting_has_the_settings_default(command, settings) -> None:
    fields = {field.name: field for field in dataclasses.fields(settings)}
    compared = 0
    for name, parameter in inspect.signature(command).parameters.items():
        if name not in fields or fields[name].default is dataclasses.MISSING and fields[name].default_factory is dataclasses.MISSING:
            continue
        field = fields[name]
        expected = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        given = getattr(parameter.default, "default", parameter.default)
        if given is None:  # an option whose absence the settings resolve ("the model's own data", "per --param")
            continue
        assert given == expected or as_cli_text(given) == as_cli_text(expected), (name, given, expected)
        compared += 1
    assert compared >= 2, "no option of the command names a setting: the table above is out of date"


def test_render_reads_its_defaults_from_the_settings_not_from_literals() -> None:
    source = inspect.getsource(render_command)
    for name in ("steps", "param", "batch", "max_batch", "diversity"):
        assert f"typer.Option(DEFAULTS.{name}," in source, name
