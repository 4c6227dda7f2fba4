"""`featurelens overview`: one grid of channel visualizations per layer, as PNGs and an HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DryRunOption, DictionaryOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder
from featurelens.overviews import plan_overview
from featurelens.rendering import RenderSettings
from featurelens.rendering.sizes import size_setting


def overview(
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    layers: str = typer.Option(None, "--layers", help="Comma-separated layer names (default: blocks spread across the network)."),
    units_per_layer: int = typer.Option(16, "--units-per-layer", help="Channels rendered per layer (the first N)."),
    size: str = typer.Option("auto", "--size", help="Image side in pixels, or auto (late layers at the model's input size, early ones at 128 px)."),
    steps: int = typer.Option(256, "--steps", help="Optimisation steps per layer."),
    param: str = typer.Option("fft", "--param", help="fft, pixel or maco."),
    seed: int = SeedOption,
    judge: str = typer.Option("", "--judge", help="Comma-separated model specs that judge each image (photo-likeness), shown on the page."),
    out: Path = typer.Option(Path("overview"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Visualize channels of layers from first to last block: edges, textures, patterns, parts, objects."""
    check_output_folder(out)
    plan = plan_overview(with_model_options(model, layout, dictionary, device), layers, units_per_layer, RenderSettings(size=size_setting(size), steps=steps, param=param, seed=seed, judge=(judge,) if judge else ()), device=device)
    result = run_or_describe(plan, dry_run, f"write to {out}")
    if result is None:
        return
    index = result.save(out)
    note = " (interrupted: kept the finished layers)" if result.interrupted else ""
    typer.echo(f"wrote {index}{note}", err=True)
