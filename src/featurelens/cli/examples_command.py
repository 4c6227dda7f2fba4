"""`featurelens examples`: the inputs of a dataset that most and least activate each channel, with the crop each unit saw."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import (
    AddressOption, DeviceOption, DryRunOption, EngineOption, DictionaryOption, LayoutOption, ModelOption, with_model_options,
)
from featurelens.dataset_examples import ExamplesSettings, plan_examples
from featurelens.dataset_examples.checkpoint import CHECKPOINT_NAME
from featurelens.output.folder_run import REPLACES
from featurelens.output.paths import check_output_folder

SKIPPED_SHOWN = 5  # unreadable files named on stderr; all are in summary.json

DEFAULTS = ExamplesSettings()  # the option defaults: the settings' own, defined once


def examples(
    data: str = typer.Option(..., "--data", "-d", help="A folder of images (recursive: jpg, png, webp, bmp), or fashion-mnist:train, fashion-mnist:test, photos; for an audio model (music-cnn) a folder of audio files (wav, flac, ogg, mp3) or music (the built-in collection)."),
    layers: str = typer.Option(..., "--layers", "-l", help="Comma-separated layer names (see `featurelens layers`)."),
    k: int = typer.Option(DEFAULTS.k, "--k", "-k", help="Examples kept per channel, at each end (top-k and bottom-k)."),
    reduce: str = typer.Option(DEFAULTS.reduce, "--reduce", help="Rank inputs by the channel's spatial max (peak; trough for bottom-k) or mean."),
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    batch_size: int = typer.Option(DEFAULTS.batch_size, "--batch-size", "-b", help="Images per forward pass."),
    size: int = typer.Option(None, "--size", help="Input side in pixels (default: the model's); images are centre-cropped to a square."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N entries of the source."),
    checkpoint_every: int = typer.Option(DEFAULTS.checkpoint_every, "--checkpoint-every", help="Save the running state every N batches (0: never); with --engine ray, after every merged shard (unless 0)."),
    resume: bool = typer.Option(None, "--resume/--fresh", help="Continue from OUT/checkpoint.pt (error if none matches) / ignore it. Default: continue when it matches."),
    project: str = typer.Option(None, "--project", help="deconvnet, guided or gradient: also show the projection of each top example (Zeiler & Fergus Fig. 2)."),
    workers: int = typer.Option(None, "--workers", help="Threads decoding image files (default: up to 8, one per CPU core); with --engine ray: Ray workers at once (default: every GPU of the cluster, else every CPU)."),
    engine: str = EngineOption,
    address: str = AddressOption,
    out: Path = typer.Option(Path("examples"), "--out", "-o", help="Output folder; " + REPLACES + "."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Find each channel's top-k and bottom-k inputs in one pass over a dataset; write a table, crops and pages.

    Writes OUT/examples.parquet, OUT/summary.json, OUT/index.html with a page per layer, and PNGs of
    the inputs and of the crop each unit saw (for an audio model: each clip's spectrogram with the excerpt
    the unit hears outlined, and the clip and the excerpt as WAV files the pages play). Long runs save OUT/checkpoint.pt every
    --checkpoint-every batches; after Ctrl-C or a crash, run the same command again to continue.
    """
    check_output_folder(out)
    settings = ExamplesSettings(k, reduce, batch_size, size, limit, project, out / CHECKPOINT_NAME, checkpoint_every, resume, workers,
                                engine, address)
    plan = plan_examples(with_model_options(model, layout, dictionary, device), data, layers, settings, device=device)
    for note in plan.notes:
        typer.echo(f"note: {note}", err=True)
    result = run_or_describe(plan, dry_run, f"write to {out}")
    if result is None:
        return
    for note in result.notes:  # an audio pass: what was done to awkward files, once each
        typer.echo(f"note: {note}", err=True)
    index = result.save(out)
    _report(result, index)
    if result.interrupted:
        raise SystemExit(130)


def _report(result, index: Path) -> None:
    note = " (interrupted: rerun the same command to continue)" if result.interrupted else ""
    noun = result.entry_noun
    projections = f" + {len(result.projections)} projections in {result.projection_seconds:.1f} s" if result.projection_method else ""
    typer.echo(
        f"wrote {index}: {result.items_seen} {noun}, {len(result.layers)} layer(s), k={result.k}, "
        f"{result.seconds:.1f} s ({result.images_per_second:.0f} {noun}/s){projections}; {result.total_seconds:.1f} s in all{note}",
        err=True,
    )
    if result.skipped:
        shown = "; ".join(f"{s.item} ({s.reason})" for s in result.skipped[:SKIPPED_SHOWN])
        more = f"; and {len(result.skipped) - SKIPPED_SHOWN} more" if len(result.skipped) > SKIPPED_SHOWN else ""
        typer.echo(f"skipped {len(result.skipped)} unreadable file(s): {shown}{more} (all in {index.parent / 'summary.json'})", err=True)
