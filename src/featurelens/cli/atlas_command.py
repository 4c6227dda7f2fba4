"""`featurelens atlas`: a static site with every chosen unit's visualizations, dataset examples and activation distribution."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.atlas import AtlasSettings, plan_atlas
from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import (
    AddressOption, DeviceOption, DryRunOption, EngineOption, DictionaryOption, LayoutOption, ModelOption, RenderWorkersOption,
    SeedOption, with_model_options,
)
from featurelens.errors import bad_parameter
from featurelens.output.paths import check_output_folder
from featurelens.rendering.sizes import AUTO, size_setting

DEFAULTS = AtlasSettings()  # the option defaults: the settings' own, defined once


def atlas(
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    data: str = typer.Option("photos", "--data", "-d", help="Where dataset examples come from: a folder of images, photos, fashion-mnist:train or fashion-mnist:test; for an audio model a folder of audio files or music (the default)."),
    layers: str = typer.Option(None, "--layers", "-l", help="Comma-separated layer names, or 'all' (every spatial layer and the logits). Default: blocks spread over the network, and the logits."),
    units: str = typer.Option(str(DEFAULTS.units), "--units", "-u", help="Units per layer: the first N channels, or 'all'."),
    steps: int = typer.Option(DEFAULTS.steps, "--steps", help="Optimisation steps of each visualization."),
    size: str = typer.Option("auto", "--size", help="Visualization side in pixels, or auto: the model's input size for units that see the whole input, else 128 px."),
    k: int = typer.Option(DEFAULTS.k, "--k", "-k", help="Dataset examples per unit at each end (top-k and bottom-k)."),
    diverse: int = typer.Option(DEFAULTS.diverse, "--diverse", help="Images in each unit's diverse set."),
    project: str = typer.Option(DEFAULTS.project, "--project", help="Projection of each top example: auto (the method that passes the sanity check best on the model), deconvnet, guided, gradient or none."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N entries of the data."),
    seed: int = SeedOption,
    max_batch: int = typer.Option(DEFAULTS.max_batch, "--max-batch", help="Most images optimised at once (units render together up to this)."),
    judge: str = typer.Option("", "--judge", help="Comma-separated model specs that judge each unit's max image: class probability and rank, photo-likeness (unit pages)."),
    engine: str = EngineOption,
    address: str = AddressOption,
    workers: int = RenderWorkersOption,
    out: Path = typer.Option(Path("atlas"), "--out", "-o", help="The atlas folder: made if new, extended if it holds an atlas."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Build or extend a model atlas: OUT/index.html, a page per layer and one per unit (OUT/LAYER/C.html), opening from disk.

    A rerun skips what is built; more --layers or --units extend the atlas; after Ctrl-C, run the same command to finish.
    """
    check_output_folder(out)
    settings = AtlasSettings(units, steps, atlas_size(size), k, diverse, None if project == "none" else project, out, limit, seed, max_batch,
                             engine, address, workers, (judge,) if judge else ())
    result = run_or_describe(plan_atlas(with_model_options(model, layout, dictionary, device), data, layers, settings, device=device), dry_run, f"write to {out}")
    if result is None:
        return
    index = result.save(out)
    built = result.summary()["built"]
    note = " (interrupted: run the same command to finish)" if result.interrupted else ""
    typer.echo(
        f"wrote {index}: {built['renders']} unit(s) visualized, {built['examples']} with examples ({built['passes']} layer(s) passed over "
        f"the data) in {result.seconds:.1f} s; the site holds {result.site_files} files, {result.site_bytes / 2**20:.1f} MiB{note}",
        err=True,
    )
    if result.interrupted:
        raise SystemExit(130)


def atlas_size(text: str) -> int | None:
    """--size as AtlasSettings takes it: None for auto, else pixels."""
    size = size_setting(text)
    if size == AUTO:
        return None
    if not isinstance(size, int):
        raise bad_parameter("size", f"must be a number of pixels or 'auto', got {text!r}")
    return size
