"""`featurelens map`: the activation atlas of one layer — its activations over many inputs laid out, gridded and rendered."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.activation_map import MapSettings, plan_map
from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DictionaryOption, DryRunOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder
from featurelens.rendering.sizes import size_setting

DEFAULTS = MapSettings()


def activation_map(
    layer: str = typer.Option(..., "--layer", "-l", help="The layer to map (see `featurelens layers`)."),
    data: str = typer.Option(..., "--data", "-d", help="A folder of images (recursive), or fashion-mnist:train, fashion-mnist:test, photos."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    class_name: str = typer.Option(None, "--class", "-c", help="Colour the cells by their attribution to this class's logit and list those that push it most."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N inputs of the source."),
    positions: int = typer.Option(DEFAULTS.positions, "--positions", help="Random positions sampled per input."),
    points: int = typer.Option(DEFAULTS.points, "--points", help="The most activation vectors laid out."),
    grid: int = typer.Option(DEFAULTS.grid, "--grid", help="Cells per side of the map."),
    min_count: int = typer.Option(DEFAULTS.min_count, "--min-count", help="Cells with fewer points stay empty."),
    neighbors: int = typer.Option(DEFAULTS.neighbors, "--neighbors", help="UMAP's neighbourhood size."),
    examples: int = typer.Option(DEFAULTS.examples, "--examples", help="Examples shown per cell (its points nearest its centre)."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Optimisation steps of the cells' renders."),
    size: str = typer.Option(str(DEFAULTS.size), "--size", help="Render side in pixels, or auto."),
    center: bool = typer.Option(DEFAULTS.center, "--center", help="Render each cell's mean less the mean of all points (what sets it apart)."),
    seed: int = SeedOption,
    out: Path = typer.Option(Path("map"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Lay out one layer's activations at random positions of many inputs with UMAP, grid them, and render each cell's
    mean activation; writes OUT/index.html (zoomable), a page per cell with its examples, and map.json. With --class the
    cells are coloured by their attribution to the class; the first --dictionary (over --layer) has its features placed
    where UMAP puts their decoder atoms."""
    check_output_folder(out)
    settings = MapSettings(limit=limit, positions=positions, points=points, grid=grid, min_count=min_count, neighbors=neighbors,
                           examples=examples, steps=steps, size=size_setting(size), center=center, seed=seed)
    placed = dictionary[0] if dictionary else None  # the first dictionary is placed on the map (its features by their atoms)
    plan = plan_map(with_model_options(model, layout, dictionary, device), layer, data, settings, class_name=class_name,
                    dictionary=placed, device=device)
    result = run_or_describe(plan, dry_run, f"write to {out}")
    if result is None:
        return
    index = result.save(out)
    note = " (interrupted: the map is partial)" if result.interrupted else ""
    typer.echo(f"wrote {index}: {len(result.points)} points, {len(result.cells)} cells rendered in {result.render_batches} batch(es), "
               f"{result.seconds:.1f} s{note}", err=True)
    if result.interrupted:
        raise SystemExit(130)
