"""`featurelens overview`: one grid of channel visualizations per layer, as PNGs and an HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.options import DeviceOption, ModelOption, SeedOption
from featurelens.cli.progress import progress_bar
from featurelens.device import resolve_device
from featurelens.models import load_model
from featurelens.output.overview_files import write_overview
from featurelens.overview import build_overview
from featurelens.overview.build import default_layers, spatial_layers
from featurelens.render import RenderSettings


def overview(
    model: str = ModelOption,
    layers: str = typer.Option(None, "--layers", help="Comma-separated layer names (default: blocks spread across the network)."),
    units_per_layer: int = typer.Option(16, "--units-per-layer", help="Channels rendered per layer (the first N)."),
    size: int = typer.Option(128, "--size", help="Image side in pixels."),
    steps: int = typer.Option(256, "--steps", help="Optimisation steps per layer."),
    param: str = typer.Option("fft", "--param", help="fft, pixel or maco."),
    seed: int = SeedOption,
    out: Path = typer.Option(Path("overview"), "--out", "-o", help="Output folder."),
    device: str = DeviceOption,
) -> None:
    """Visualize channels of layers from first to last block: edges, textures, patterns, parts, objects."""
    loaded = load_model(model, resolve_device(device))
    settings = RenderSettings(size=size, steps=steps, param=param, seed=seed)
    names = [n.strip() for n in layers.split(",") if n.strip()] if layers else None
    chosen = names or [i.name for i in default_layers(loaded, spatial_layers(loaded, size))]
    total = steps * units_per_layer * len(chosen)
    with progress_bar(f"overview of {len(chosen)} layers", total) as advance:
        overviews = build_overview(loaded, chosen, units_per_layer, settings, progress=advance)
    index = write_overview(overviews, loaded.spec, settings, out)
    typer.echo(f"wrote {index}", err=True)
