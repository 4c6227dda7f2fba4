"""`featurelens find`: the units (and dictionary features) that separate pictures of a concept from others."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DeviceOption, DictionaryOption, DryRunOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.concepts import FindSettings, plan_find
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder
from featurelens.rendering.sizes import size_setting

SKIPPED_SHOWN = 5  # unreadable files named on stderr; all are on the page and in ranking.json

DEFAULTS = FindSettings()  # the option defaults: the settings' own, defined once


def find(
    layers: list[str] = typer.Option(..., "--layers", "-l", help="Layers whose units are ranked (comma-separated or repeated); LAYER/NAME ranks a dictionary's features (--dictionary)."),
    positives: list[str] = typer.Option(..., "--positives", "-p", help="Pictures of the concept: a folder (recursive), an image file, fashion-mnist:test or photos (repeatable: read one after the other)."),
    negatives: list[str] = typer.Option(None, "--negatives", "-n", help="Pictures without it, same forms (default: the model's own test data, fashion-cnn's fashion-mnist:test; else the bundled photos). Pictures that are also positives are left out."),
    data: str = typer.Option(None, "--data", "-d", help="Where the top units' dataset examples come from (default: the negatives)."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    reduce: str = typer.Option(DEFAULTS.reduce, "--reduce", help="A unit's score per input: its max over positions (fires anywhere) or mean. The direction always uses the mean."),
    units: int = typer.Option(DEFAULTS.units, "--units", help="Top units shown with renders and examples."),
    k: int = typer.Option(DEFAULTS.k, "--k", "-k", help="Dataset examples shown per unit."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N negatives and data entries."),
    crops: int = typer.Option(None, "--crops", help="Random crops added per image (default: only a side with fewer than 16 images gets them, enough to reach 16)."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Render steps."),
    size: str = typer.Option(DEFAULTS.size, "--size", help="Render side in pixels, or auto."),
    param: str = typer.Option(DEFAULTS.param, "--param", help="Render parameterization: fft, pixel or maco."),
    batch_size: int = typer.Option(DEFAULTS.batch_size, "--batch-size", "-b", help="Images per forward pass."),
    seed: int = SeedOption,
    out: Path = typer.Option(Path("find"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Rank the units of layers by how well they separate positives from negatives (ROC AUC, best threshold), fit the
    concept's direction (a linear probe, as TCAV), and show the top units and the direction: renders and top examples.

    Writes OUT/index.html, OUT/ranking.json (every unit), and per layer OUT/concept-LAYER.npy (render it with
    `featurelens render "LAYER:dir=OUT/concept-LAYER.npy"`) and OUT/concept-LAYER.pt (`--dictionary` makes it LAYER/concept:0).
    """
    check_output_folder(out)
    settings = FindSettings(reduce=reduce, units=units, k=k, limit=limit, crops=crops, batch_size=batch_size, steps=steps,
                            size=size_setting(size), param=param, seed=seed)
    names = [name for entry in layers for name in entry.split(",")]
    plan = plan_find(with_model_options(model, layout, dictionary, device), names, positives, negatives or None, data, settings,
                     device=device)
    for note in plan.notes:
        typer.echo(f"note: {note}", err=True)
    result = run_or_describe(plan, dry_run, f"write to {out}")
    if result is None:
        return
    index = result.save(out)
    best = result.top[0]
    typer.echo(f"wrote {index}: best {best.unit} (AUC {best.auc:.3f}) of {len(result.ranking)} units; {result.positive_counts.total} "
               f"positives, {result.negative_counts.total} negatives; {result.seconds:.1f} s"
               + (" (interrupted: what finished is shown)" if result.interrupted else ""), err=True)
    if result.skipped:
        shown = "; ".join(f"{s.item} ({s.reason})" for s in result.skipped[:SKIPPED_SHOWN])
        more = f"; and {len(result.skipped) - SKIPPED_SHOWN} more" if len(result.skipped) > SKIPPED_SHOWN else ""
        typer.echo(f"skipped {len(result.skipped)} unreadable file(s): {shown}{more}", err=True)
    if result.interrupted:
        raise SystemExit(130)
