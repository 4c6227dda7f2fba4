"""`featurelens dream`: DeepDream on a photo, any size, from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DryRunOption, ForceOption, DictionaryOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.deepdream import DreamSettings, plan_dream
from featurelens.output.paths import check_chosen_file, check_output_file

DEFAULTS = DreamSettings()  # the option defaults: the settings' own, defined once


def dream(
    image: Path = typer.Argument(..., help="The photo to dream on (PNG, JPEG, … any size)."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    objective: str = typer.Option(None, "--objective", help="Unit expression to amplify: a layer (default: the model's DeepDream layer, e.g. _blocks.8), LAYER:C channels, A+B across layers …"),
    octaves: int = typer.Option(DEFAULTS.octaves, "--octaves", help="Octaves of the image pyramid, smallest first."),
    octave_scale: float = typer.Option(DEFAULTS.octave_scale, "--octave-scale", help="Size ratio between octaves."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Gradient-ascent steps per octave."),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", help="Mean pixel change per step (pixels in [0, 1])."),
    jitter: int = typer.Option(DEFAULTS.jitter, "--jitter", help="Largest random roll in pixels each step."),
    guide: Path = typer.Option(None, "--guide", help="Guide image: match each position to its best-matching guide feature instead of amplifying the layer."),
    tile: int = typer.Option(None, "--tile", help="Largest crop side one forward pass sees: memory follows the tile, not the image. [default: 512, more for deep layers]"),
    seed: int = SeedOption,
    out: Path = typer.Option(None, "--out", "-o", help="Output PNG, replaced if it exists (default: IMAGE_dream.png in the current folder, never replaced without --force); a folder for several photos."),
    force: bool = ForceOption,
    save_octaves: bool = typer.Option(False, "--save-octaves", help="Also write each octave's result and the objective's trajectory (JSON)."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Amplify what a layer sees in a photo (DeepDream), octave by octave, tile by tile."""
    target = check_output_file(out or Path(f"{image.stem}_dream.png"), (".png",))
    if out is None:
        check_chosen_file(target, force)
    settings = DreamSettings(octaves=octaves, octave_scale=octave_scale, steps=steps, lr=lr, jitter=jitter, tile=tile, seed=seed)
    result = run_or_describe(plan_dream(with_model_options(model, layout, dictionary, device), image, objective, guide=guide, settings=settings, device=device), dry_run, f"write to {target}")
    if result is None:
        return
    written = result.save(target, octaves=save_octaves)
    note = " (interrupted: kept what was finished)" if result.interrupted else ""
    extra = " and each octave" if save_octaves else ""
    typer.echo(
        f"wrote {written}{extra}: {result.objective} {result.initial_value:.4g} → {result.final_value:.4g} in {result.seconds:.1f}s{note}",
        err=True,
    )
