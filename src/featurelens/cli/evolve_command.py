"""`featurelens evolve`: the same units rendered and ranked at every checkpoint of a training run, as a timeline page."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DryRunOption, DictionaryOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.evolution import EvolveSettings, plan_evolve
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder
from featurelens.rendering.sizes import size_setting

DEFAULTS = EvolveSettings()  # the option defaults: the settings' own, defined once


def evolve(
    units: list[str] = typer.Argument(..., help="Unit addresses, as for render: LAYER:C, LAYER:A..B, logit:NAME …"),
    data: str = typer.Option(..., "--data", "-d", help="Where to rank examples: a folder of images, fashion-mnist:train, fashion-mnist:test or photos."),
    checkpoints: list[str] = typer.Option(None, "--checkpoints", "-c", help="State-dict files (repeat, or comma-separated) or a folder of them, in training order (default: the checkpoints the model ships)."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Optimisation steps per render."),
    size: str = typer.Option(DEFAULTS.size, "--size", help="Render side in pixels, or auto."),
    param: str = typer.Option(DEFAULTS.param, "--param", help="Parameterization: fft, pixel, maco or cppn."),
    seed: int = SeedOption,
    k: int = typer.Option(DEFAULTS.k, "--k", "-k", help="Top examples kept per unit and checkpoint."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N entries of the data."),
    out: Path = typer.Option(Path("evolution"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Follow units across training: render them with the same seed and rank the same data at every checkpoint."""
    check_output_folder(out)
    settings = EvolveSettings(checkpoints or None, steps, size_setting(size), param, seed, k, limit=limit)
    result = run_or_describe(plan_evolve(with_model_options(model, layout, dictionary, device), data, units, settings, device=device), dry_run, f"write to {out}")
    if result is None:
        return
    index = result.save(out)
    note = " (interrupted: kept the finished checkpoints)" if result.interrupted else ""
    typer.echo(f"wrote {index}: {len(result.units)} unit(s) × {len(result.checkpoints)} checkpoints{note} in {result.seconds:.1f}s", err=True)
