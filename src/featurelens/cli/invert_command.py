"""`featurelens invert train|show`: train a decoder from a layer back to the image, and decode single units with it."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.help_examples import epilog
from featurelens.cli.options import DeviceOption, DryRunOption, ForceOption, DictionaryOption, LayoutOption, ModelOption, with_model_options
from featurelens.invert import TrainSettings, plan_decode, plan_training
from featurelens.output.images import safe_filename
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_chosen_file, check_output_file

DEFAULTS = TrainSettings()  # the option defaults: the settings' own, defined once

invert_app = typer.Typer(epilog=epilog("invert"), help="Train a backward network (decoder) for a layer, and see what single units carry.", no_args_is_help=True)


@invert_app.command("train", epilog=epilog("invert train"))
def train(
    layer: str = typer.Option(..., "--layer", help="Layer whose activations the decoder reads, e.g. pool2 or _blocks.8."),
    data: str = typer.Option(..., "--data", help="Training images: fashion-mnist:train, fashion-mnist:test, photos or a folder."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    epochs: int = typer.Option(DEFAULTS.epochs, "--epochs", help="Passes over the training images."),
    batch_size: int = typer.Option(DEFAULTS.batch_size, "--batch-size"),
    lr: float = typer.Option(DEFAULTS.lr, "--lr", help="Peak Adam learning rate (one-cycle schedule)."),
    width: int = typer.Option(DEFAULTS.width, "--width", help="Channels of the decoder's first stage (halved at each upsampling)."),
    limit: int = typer.Option(None, "--limit", help="Use at most this many training images."),
    feature_layer: str = typer.Option(None, "--feature-layer", help="Also match the model's activations at this (earlier) layer."),
    feature_weight: float = typer.Option(DEFAULTS.feature_weight, "--feature-weight", help="Weight of the feature loss."),
    seed: int = typer.Option(DEFAULTS.seed, "--seed", help="Fixes the decoder's initialisation and batch order."),
    out: Path = typer.Option(None, "--out", "-o", help="Inverter file, rewritten after every epoch (default: MODEL_LAYER_inverter.pt, never replaced without --force)."),
    force: bool = ForceOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Train a decoder that reconstructs the input image from the activations of one layer."""
    target = check_output_file(out or Path(f"{safe_filename(model)}_{safe_filename(layer)}_inverter.pt"), (".pt", ".pth"))
    if out is None:
        check_chosen_file(target, force)
    settings = TrainSettings(epochs, batch_size, lr, width, seed, feature_layer, feature_weight)
    plan = plan_training(with_model_options(model, layout, dictionary, device), layer, data, settings, limit=limit, out=target, device=device)
    result = run_or_describe(plan, dry_run, f"write to {target}")
    if result is None:
        return
    note = " (interrupted: kept the last finished epoch)" if result.interrupted else ""
    losses = ", ".join(f"{loss:.5f}" for loss in result.losses) or "none finished"
    typer.echo(f"wrote {target}: epoch losses {losses}{note}", err=True)


@invert_app.command("show", epilog=epilog("invert show"))
def show(
    image: Path = typer.Argument(..., help="Input image (centre square, resized to the model's input size)."),
    units: list[str] = typer.Argument(..., help="Units of the inverter's layer: LAYER (all of it), LAYER:C, LAYER:C@Y,X or LAYER:C@center."),
    inverter: Path = typer.Option(None, "--inverter", help="Inverter file from `featurelens invert train` (default: the one shipped for --model, fashion-cnn pool2)."),
    model: str = typer.Option(None, "--model", "-m", help="Model spec (default: the one the inverter was trained for; fashion-cnn without --inverter)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output PNG: input | decode | what the unit adds (default: invert_UNIT.png, never replaced without --force); a folder for several units (" + REPLACES + ")."),
    force: bool = ForceOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Decode one unit (all other activations of its layer zeroed), or the whole layer, beside the input."""
    target = out or Path(f"invert_{safe_filename(units[0])}.png" if len(units) == 1 else "invert")
    if len(units) == 1:
        check_output_file(target, (".png",))
        if out is None:
            check_chosen_file(target, force)
    plan = plan_decode(model if model or inverter else "fashion-cnn", image, units, inverter=inverter, device=device)
    result = run_or_describe(plan, dry_run, f"write to {target}")
    if result is None:
        return
    written = result.save(target)
    typer.echo(f"wrote {written}", err=True)
