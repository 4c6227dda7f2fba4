"""`featurelens dream`: DeepDream on a photo, any size, from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.options import DeviceOption, ModelOption, SeedOption
from featurelens.cli.progress import progress_bar
from featurelens.device import resolve_device
from featurelens.dream import DreamSettings, octave_sizes
from featurelens.dream import dream as dream_image
from featurelens.dream.deepdream import DEFAULT_LR
from featurelens.images import load_image
from featurelens.models import load_model
from featurelens.output.dream_files import write_dream


def dream(
    image: Path = typer.Argument(..., help="The photo to dream on (PNG, JPEG, … any size)."),
    model: str = ModelOption,
    objective: str = typer.Option(None, "--objective", help="Unit expression to amplify: a layer (default: a mid layer such as _blocks.8), LAYER:C channels, A+B across layers …"),
    octaves: int = typer.Option(4, "--octaves", help="Octaves of the image pyramid, smallest first."),
    octave_scale: float = typer.Option(1.4, "--octave-scale", help="Size ratio between octaves."),
    steps: int = typer.Option(10, "--steps", help="Gradient-ascent steps per octave."),
    lr: float = typer.Option(DEFAULT_LR, "--lr", help="Mean pixel change per step (pixels in [0, 1])."),
    jitter: int = typer.Option(32, "--jitter", help="Largest random roll in pixels each step."),
    guide: Path = typer.Option(None, "--guide", help="Guide image: match each position to its best-matching guide feature instead of amplifying the layer."),
    tile: int = typer.Option(None, "--tile", help="Largest crop side one forward pass sees: memory follows the tile, not the image. [default: 512, more for deep layers]"),
    seed: int = SeedOption,
    out: Path = typer.Option(None, "--out", "-o", help="Output PNG (default: IMAGE_dream.png in the current folder)."),
    save_octaves: bool = typer.Option(False, "--save-octaves", help="Also write each octave's result and the objective's trajectory (JSON)."),
    device: str = DeviceOption,
) -> None:
    """Amplify what a layer sees in a photo (DeepDream), octave by octave, tile by tile."""
    loaded = load_model(model, resolve_device(device))
    picture = load_image(image, loaded.in_channels)
    guide_picture = load_image(guide, loaded.in_channels) if guide is not None else None
    settings = DreamSettings(octaves=octaves, octave_scale=octave_scale, steps=steps, lr=lr, jitter=jitter, tile=tile, seed=seed)
    settings.check()
    total = steps * len(octave_sizes(picture.shape[-2], picture.shape[-1], settings, loaded.min_size))
    with progress_bar("dreaming", total) as advance:
        result = dream_image(loaded, picture, objective, guide=guide_picture, settings=settings, progress=advance)
    target = out or Path(f"{image.stem}_dream.png")
    paths = write_dream(result, target, save_octaves)
    note = " (interrupted: kept what was finished)" if result.interrupted else ""
    typer.echo(
        f"wrote {', '.join(map(str, paths))}: {result.objective} {result.initial_value:.4g} → {result.final_value:.4g} "
        f"in {result.seconds:.1f}s{note}",
        err=True,
    )
