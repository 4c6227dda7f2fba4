"""`featurelens project`: map units of an image back to pixels (deconvnet, guided backprop or gradient)."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DryRunOption, ForceOption, DictionaryOption, LayoutOption, ModelOption, with_model_options
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_chosen_file
from featurelens.projection.files import check_projection_path
from featurelens.projection import check_method, plan_projection


def project(
    image: Path = typer.Argument(..., help="Image file (PNG, JPEG…): converted to the model's channels, centre square, resized to its input size."),
    units: list[str] = typer.Argument(..., help="Unit addresses: LAYER:C (the channel's strongest position), LAYER:C@Y,X or LAYER:C@center, e.g. conv3:5, _blocks.8:12@3,4."),
    method: str = typer.Option("deconvnet", "--method", help="deconvnet (Zeiler & Fergus), guided (guided backprop) or gradient (plain gradient)."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    out: Path = typer.Option(None, "--out", "-o", help="One unit: .png (centred, scaled by the 99.5th percentile) or .npy (raw C×H×W float32), replaced if it exists (default: projection.png, never replaced without --force). Several: a folder of both; " + REPLACES + "."),
    force: bool = ForceOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Show which pixels of IMAGE drive each UNIT: its activation mapped back to input space."""
    check_method(method)
    if out is None:
        out = check_chosen_file(Path("projection.png"), force)
    check_projection_path(out, len(units))
    result = run_or_describe(plan_projection(with_model_options(model, layout, dictionary, device), image, units, method, device=device), dry_run, f"write to {out}")
    if result is None:
        return
    result.save(out)
    for unit, value in zip(result.units, result.activations):
        silent = " (the unit is not active on this image)" if value <= 0 else ""
        typer.echo(f"wrote {out}: {method} projection of {unit}, activation {value:.4g}{silent}", err=True)
