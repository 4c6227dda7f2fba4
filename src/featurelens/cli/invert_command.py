"""`featurelens invert train|show`: train a decoder from a layer back to the image, and decode single units with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from featurelens.cli.options import DeviceOption, ModelOption
from featurelens.device import resolve_device
from featurelens.images import load_image
from featurelens.invert import TrainSettings, decode_unit, load_inverter, shipped_inverter_path, train_inverter
from featurelens.invert.data import training_images
from featurelens.invert.show import single_unit
from featurelens.models import load_model
from featurelens.output.images import contact_sheet, safe_filename

invert_app = typer.Typer(help="Train a backward network (decoder) for a layer, and see what single units carry.", no_args_is_help=True)

PANEL = 224  # pixels a side for each panel of `invert show`, so 28×28 inputs stay visible


@invert_app.command("train")
def train(
    layer: str = typer.Option(..., "--layer", help="Layer whose activations the decoder reads, e.g. pool2 or _blocks.8."),
    data: str = typer.Option(..., "--data", help="Training images: fashion-mnist:train, fashion-mnist:test, photos or a folder."),
    model: str = ModelOption,
    epochs: int = typer.Option(2, "--epochs", help="Passes over the training images."),
    batch_size: int = typer.Option(128, "--batch-size"),
    lr: float = typer.Option(3e-3, "--lr", help="Peak Adam learning rate (one-cycle schedule)."),
    width: int = typer.Option(64, "--width", help="Channels of the decoder's first stage (halved at each upsampling)."),
    limit: int = typer.Option(None, "--limit", help="Use at most this many training images."),
    feature_layer: str = typer.Option(None, "--feature-layer", help="Also match the model's activations at this (earlier) layer."),
    feature_weight: float = typer.Option(1.0, "--feature-weight", help="Weight of the feature loss."),
    seed: int = typer.Option(0, "--seed", help="Fixes the decoder's initialisation and batch order."),
    out: Path = typer.Option(None, "--out", "-o", help="Inverter file (default: MODEL_LAYER_inverter.pt); rewritten after every epoch."),
    device: str = DeviceOption,
) -> None:
    """Train a decoder that reconstructs the input image from the activations of one layer."""
    loaded = load_model(model, resolve_device(device))
    settings = TrainSettings(epochs, batch_size, lr, width, seed, feature_layer, feature_weight)
    settings.check(loaded, layer)
    target = out or Path(f"{safe_filename(loaded.spec)}_{safe_filename(layer)}_inverter.pt")
    images = training_images(data, loaded.in_channels, loaded.input_size, limit, seed)
    done: list[int] = []
    command = (
        f"featurelens invert train --model {loaded.spec} --layer {layer} --data {data} --epochs {epochs} --batch-size {batch_size} "
        f"--lr {lr:g} --width {width} --seed {seed}" + (f" --limit {limit}" if limit else "")
        + (f" --feature-layer {feature_layer} --feature-weight {feature_weight:g}" if feature_layer else "")
    )

    def save(inverter, epoch: int) -> None:
        inverter.config["epochs_done"] = epoch + 1
        inverter.config["command"] = command
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save(inverter.checkpoint(), target)
        done.append(epoch)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]:.5f}"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"training {layer} decoder on {len(images)} images", total=None, loss=float("nan"))

        def progress(epoch: int, batch: int, batches: int, loss: float) -> None:
            bar.update(task, total=epochs * batches, completed=epoch * batches + batch + 1, loss=loss)

        result = train_inverter(loaded, layer, images, settings, progress=progress, on_epoch=save, data_name=data)
    if result.interrupted and not done:
        save(result.inverter, -1)  # nothing finished: keep the partial decoder rather than nothing
    note = " (interrupted: kept the last finished epoch)" if result.interrupted else ""
    losses = ", ".join(f"{loss:.5f}" for loss in result.losses) or "none finished"
    typer.echo(f"wrote {target}: epoch losses {losses}{note}", err=True)


@invert_app.command("show")
def show(
    image: Path = typer.Argument(..., help="Input image (centre square, resized to the model's input size)."),
    unit: str = typer.Argument(..., help="A unit of the inverter's layer: LAYER (all of it), LAYER:C, LAYER:C@Y,X or LAYER:C@center."),
    inverter: Path = typer.Option(None, "--inverter", help="Inverter file from `featurelens invert train` (default: the one shipped for --model, fashion-cnn pool2)."),
    model: str = typer.Option(None, "--model", "-m", help="Model spec (default: the one the inverter was trained for; fashion-cnn without --inverter)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output PNG: input | decode | what the unit adds (default: invert_UNIT.png)."),
    device: str = DeviceOption,
) -> None:
    """Decode one unit (all other activations of its layer zeroed), or the whole layer, beside the input."""
    chosen = single_unit(unit)
    decoder = load_inverter(inverter or shipped_inverter_path(model or "fashion-cnn"))
    loaded = load_model(model or decoder.model_spec, resolve_device(device))
    decoder.check_fits(loaded, chosen.layer)
    decoder.to(loaded.device)
    picture = _square(load_image(image, loaded.in_channels), loaded.input_size)
    decoded = decode_unit(decoder, loaded, picture, chosen)
    panels = [_panel(decoded.image), _panel(decoded.reconstruction), _panel(_diverging(decoded.contribution))]
    target = out or Path(f"invert_{safe_filename(decoded.unit)}.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(panels, ["input", f"decode {decoded.unit}", "added (red +, blue -)"], columns=3).save(target)
    typer.echo(f"wrote {target}", err=True)


def _square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Centre square of [1, C, H, W], resized to size × size."""
    height, width = image.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[..., top : top + side, left : left + side]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=side > size, align_corners=False).clamp(0, 1)


def _diverging(contribution: torch.Tensor) -> torch.Tensor:
    """Signed image differences as colour: red where the unit brightens, blue where it darkens, white for none."""
    signed = contribution.mean(1, keepdim=True)
    signed = signed / signed.abs().max().clamp_min(1e-8)
    positive, negative = signed.clamp(min=0), (-signed).clamp(min=0)
    return torch.cat([1 - negative, 1 - positive - negative, 1 - positive], 1)


def _panel(image: torch.Tensor) -> np.ndarray:
    """[1, C, S, S] in [0, 1] → uint8 RGB [PANEL, PANEL, 3], enlarged with nearest neighbours."""
    scale = max(1, PANEL // image.shape[-1])
    big = F.interpolate(image, scale_factor=scale, mode="nearest") if scale > 1 else image
    pixels = (big[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
