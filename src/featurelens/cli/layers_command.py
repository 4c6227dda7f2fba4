"""`featurelens layers`: every hookable layer with its type and output shape."""

from __future__ import annotations

import json

import torch
import typer

from featurelens.capture import list_layers
from featurelens.cli.options import DeviceOption, ModelOption
from featurelens.device import resolve_device
from featurelens.models import load_model


def layers(
    model: str = ModelOption,
    size: int = typer.Option(None, "--size", help="Input size for the dry run (default: the model's own)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of {name, type, shape}."),
    device: str = DeviceOption,
) -> None:
    """List every hookable layer of a model (one dry-run forward)."""
    loaded = load_model(model, resolve_device(device))
    side = size or loaded.input_size
    example = torch.full((1, loaded.in_channels, side, side), 0.5, device=loaded.device)
    infos = list_layers(loaded.module, loaded.normalize(example))
    if as_json:
        typer.echo(json.dumps([{"name": i.name, "type": i.type, "shape": list(i.shape), "channels": i.channels} for i in infos]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{loaded.spec} at {side}×{side}")
    for column in ("layer", "type", "output shape", "channels"):
        table.add_column(column, no_wrap=True, overflow="fold")
    for info in infos:
        table.add_row(info.name, info.type, "×".join(map(str, info.shape)), str(info.channels))
    Console().print(table)
