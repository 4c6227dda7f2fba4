"""`featurelens render`: activation maximization from the command line."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import (
    AddressOption, DeviceOption, DryRunOption, EngineOption, DictionaryOption, LayoutOption, ModelOption, RenderWorkersOption,
    SeedOption, with_model_options,
)
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder
from featurelens.rendering import Regularizers, RenderSettings, RobustnessTransform, plan_render
from featurelens.rendering.sizes import size_setting

DEFAULTS = RenderSettings()  # the option defaults: the settings' own, defined once


def render(
    units: list[str] = typer.Argument(..., help="Unit addresses, one image each: LAYER:C, LAYER:A..B (a range), LAYER:C@Y,X (LAYER:C@T on a 1-D audio layer), LAYER, logit:N, logit:NAME, A+B, -A …"),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    size: str = typer.Option(DEFAULTS.size, "--size", help="Image side in pixels, or auto: the model's input size for units that see the whole input (class logits, late layers), 128 px for the others; for an audio model, spectrogram frames (auto: its clip)."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Optimisation steps."),
    param: str = typer.Option(DEFAULTS.param, "--param", help="Parameterization: fft (Lucid), pixel, maco or cppn (resolution-free)."),
    lr: float = typer.Option(None, "--lr", help="Adam learning rate (default depends on --param)."),
    batch: int = typer.Option(DEFAULTS.batch, "--batch", help="Images per unit (with --diversity they differ); frames with --interpolate."),
    seed: int = SeedOption,
    diversity: float = typer.Option(DEFAULTS.diversity, "--diversity", help="Weight of the diversity term across a unit's batch (Lucid uses ~1e2)."),
    interpolate: bool = typer.Option(DEFAULTS.interpolate, "--interpolate", help="Two units: render --batch frames morphing from the first to the second."),
    l1: float = typer.Option(0.0, "--l1", help="Weight of the L1 prior (pixels towards grey)."),
    l2: float = typer.Option(0.0, "--l2", help="Weight of the L2 prior."),
    tv: float = typer.Option(0.0, "--tv", help="Weight of the total-variation prior."),
    blur: float = typer.Option(0.0, "--blur", help="Weight of the blur prior."),
    no_transforms: bool = typer.Option(False, "--no-transforms", help="Turn off transformation robustness (pad/jitter/scale/rotate)."),
    no_decorrelate: bool = typer.Option(False, "--no-decorrelate", help="Optimise in plain RGB instead of decorrelated colour."),
    max_batch: int = typer.Option(DEFAULTS.max_batch, "--max-batch", help="Most images optimised at once; more units run in several batches (on Ray: one batch per worker task)."),
    out_size: int = typer.Option(None, "--out-size", help="With --param cppn: draw the final images at this size."),
    judge: str = typer.Option("", "--judge", help="Comma-separated model specs that judge the images: class probability and rank, photo-likeness (render.json, contact sheet)."),
    engine: str = EngineOption,
    address: str = AddressOption,
    workers: int = RenderWorkersOption,
    data: str = typer.Option(None, "--data", help="Data to hold every image against on its own objective: a folder of images, fashion-mnist:test, photos … (default: the model's own test data, else the bundled photos); render.json says which images beat its best item."),
    no_retry: bool = typer.Option(False, "--no-retry", help="Keep the images that end below the data's best as they are (flagged), instead of rendering them again from that best item."),
    precision: str = typer.Option(DEFAULTS.precision, "--precision", help="The network's steps in float32, or bfloat16 (autocast, also for the robustness samples; the image, Adam, the activation and the figures at other sizes stay float32)."),
    out: Path = typer.Option(Path("render"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Grow images from noise that maximize (or, with a leading '-', minimize) units of a model."""
    settings = RenderSettings(
        size=size_setting(size), steps=steps, param=param, lr=lr, batch=batch, seed=seed, diversity=diversity,
        interpolate=interpolate, transforms=None if no_transforms else RobustnessTransform(),
        regularizers=Regularizers(l1=l1, l2=l2, tv=tv, blur=blur), decorrelate=not no_decorrelate,
        max_batch=max_batch, out_size=out_size, judge=(judge,) if judge else (), engine=engine, address=address, workers=workers,
        data=data, retry=not no_retry, precision=precision,
    )
    check_output_folder(out)
    result = run_or_describe(plan_render(with_model_options(model, layout, dictionary, device), units, settings, device=device), dry_run, f"write to {out}")
    if result is None:
        return
    result.save(out)
    note = " (interrupted: kept what was finished)" if result.interrupted else ""
    written = "spectrogram(s), WAV(s)" if result.summary().get("modality") == "audio" else "image(s)"
    typer.echo(f"wrote {len(result.units)} {written} and render.json to {out}{note} in {result.seconds:.1f}s", err=True)
    below = result.summary().get("below_data")
    if below:
        typer.echo(f"{below} image(s) end below the best item of {result.data} on their own objective (beats_data false in render.json)", err=True)
