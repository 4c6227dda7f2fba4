"""`featurelens layers`: every hookable layer with its type, output shape, layout and feature size."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from featurelens.capture import LayerInfo, probe
from featurelens.cli.options import DeviceOption, DryRunOption, DictionaryOption, LayoutOption, ModelOption
from featurelens.models import model_for


def layers(
    model: str = ModelOption,
    size: int = typer.Option(None, "--size", help="Input size for the dry run (default: the model's own; frames for an audio model)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {name, type, shape, layout, channels}."),
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """List every hookable layer of a model (one dry-run forward). `channels` is the feature size (a token layer's
    width), `layout` how positions are read: a map, a channels-last grid, tokens on their patch grid (1+7×7: a class
    token and 49 patches), a time line."""
    loaded = model_for(model, device, layouts=layout, dictionaries=dictionary)
    side = size or loaded.input_size
    if dry_run:
        typer.echo(f"would list the layers of {loaded.spec} at {loaded.size_label(side)} on {loaded.device}")
        return
    infos = probe(loaded, side).layers
    if as_json:
        typer.echo(json.dumps([{"name": i.name, "type": i.type, "shape": list(i.raw_shape), "layout": _layout(i), "channels": i.channels}
                               for i in infos]))
        return
    table = Table(title=f"{loaded.spec} at {loaded.size_label(side)}")
    for column in ("layer", "type", "output shape", "layout", "channels"):
        table.add_column(column, no_wrap=True, overflow="fold")
    for info in infos:
        table.add_row(info.name, info.type, "×".join(map(str, info.raw_shape)), _layout(info), str(info.channels))
    Console().print(table)


def _layout(info: LayerInfo) -> str:
    return info.layout.describe() if info.layout else "map"
