"""`featurelens project`: map one unit of one image back to pixels (deconvnet, guided backprop or gradient)."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.options import DeviceOption, ModelOption
from featurelens.device import resolve_device
from featurelens.models import load_model
from featurelens.output.projection_files import check_projection_path, write_projection
from featurelens.project import check_method, load_model_image
from featurelens.project import project as project_unit


def project(
    image: Path = typer.Argument(..., help="Image file (PNG, JPEG…): converted to the model's channels, centre square, resized to its input size."),
    unit: str = typer.Argument(..., help="Unit address: LAYER:C (the channel's strongest position), LAYER:C@Y,X or LAYER:C@center, e.g. conv3:5, _blocks.8:12@3,4."),
    method: str = typer.Option("deconvnet", "--method", help="deconvnet (Zeiler & Fergus), guided (guided backprop) or gradient (plain gradient)."),
    model: str = ModelOption,
    out: Path = typer.Option(Path("projection.png"), "--out", "-o", help="Output file: .png (grey = 0, scaled by max |value|) or .npy (raw C×H×W float32)."),
    device: str = DeviceOption,
) -> None:
    """Show which pixels of IMAGE drive UNIT: its activation mapped back to input space."""
    check_method(method)
    check_projection_path(out)
    loaded = load_model(model, resolve_device(device))
    picture = load_model_image(loaded, image)
    result = project_unit(loaded, picture, unit, method)
    write_projection(result, out)
    silent = " (the unit is not active on this image)" if result.activation <= 0 else ""
    typer.echo(f"wrote {out}: {method} projection of {result.unit}, activation {result.activation:.4g}{silent}", err=True)
