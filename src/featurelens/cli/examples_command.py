"""`featurelens examples`: the inputs of a dataset that most and least activate each channel, with the crop each unit saw.

Resuming: every `--checkpoint-every` batches the running state is saved to OUT/checkpoint.pt. Run the
same command again and it continues from there when the checkpoint matches (same model and weights,
source files, layers, k, reduce, size); `--resume` insists on that, `--fresh` ignores the checkpoint.
The checkpoint is removed when a run finishes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import typer

from featurelens.cli.options import DeviceOption, ModelOption
from featurelens.cli.progress import progress_bar
from featurelens.device import resolve_device
from featurelens.errors import FeaturelensError
from featurelens.examples import ExamplesState, open_source, top_examples
from featurelens.examples.projections import example_projections
from featurelens.examples.run import run_fingerprint
from featurelens.models import load_model
from featurelens.output.examples_files import checkpoint_path, load_checkpoint, save_checkpoint, write_examples
from featurelens.output.projection_files import projection_picture
from featurelens.project.rectifiers import check_method

SKIPPED_SHOWN = 5  # unreadable files named on stderr; all are in summary.json


def examples(
    data: str = typer.Option(..., "--data", "-d", help="A folder of images (recursive: jpg, png, webp, bmp), or fashion-mnist:train, fashion-mnist:test, photos."),
    layers: str = typer.Option(..., "--layers", "-l", help="Comma-separated layer names (see `featurelens layers`)."),
    k: int = typer.Option(9, "--k", "-k", help="Examples kept per channel, at each end (top-k and bottom-k)."),
    reduce: str = typer.Option("max", "--reduce", help="Rank inputs by the channel's spatial max (peak; trough for bottom-k) or mean."),
    model: str = ModelOption,
    batch_size: int = typer.Option(64, "--batch-size", "-b", help="Images per forward pass."),
    size: int = typer.Option(None, "--size", help="Input side in pixels (default: the model's); images are centre-cropped to a square."),
    limit: int = typer.Option(None, "--limit", help="Use only the first N entries of the source."),
    checkpoint_every: int = typer.Option(20, "--checkpoint-every", help="Save the running state every N batches (0: never)."),
    resume: bool = typer.Option(None, "--resume/--fresh", help="Continue from OUT/checkpoint.pt (error if none matches) / ignore it. Default: continue when it matches."),
    project: str = typer.Option(None, "--project", help="deconvnet, guided or gradient: also show the projection of each top example (Zeiler & Fergus Fig. 2)."),
    workers: int = typer.Option(None, "--workers", help="Threads decoding image files (default: up to 8, one per CPU core)."),
    out: Path = typer.Option(Path("examples"), "--out", "-o", help="Output folder."),
    device: str = DeviceOption,
) -> None:
    """Find each channel's top-k and bottom-k inputs in one pass over a dataset; write a table, crops and pages.

    Writes OUT/examples.parquet, OUT/summary.json, OUT/index.html with a page per layer, and PNGs of
    the inputs and of the crop each unit saw. Long runs save OUT/checkpoint.pt every
    --checkpoint-every batches; after Ctrl-C or a crash, run the same command again to continue.
    """
    if k <= 0:
        raise FeaturelensError(f"--k must be a positive number of examples per unit, got {k}")
    if project is not None:
        check_method(project)
    source = open_source(data, workers)
    loaded = load_model(model, resolve_device(device))
    names = list(dict.fromkeys(n.strip() for n in layers.split(",") if n.strip()))
    state = _resume_state(resume, out, lambda: run_fingerprint(loaded, source, names, k, reduce, size or loaded.input_size))
    total = min(len(source), limit) if limit else len(source)
    start = state.entries if state else 0
    saved = checkpoint_path(out)
    # Transient: the closing summary line replaces the bar.
    with progress_bar(f"examples of {len(names)} layer(s)", total or None, start, rate_unit="images", transient=True) as advance:
        result = top_examples(
            loaded, source, names, k, reduce, batch_size, size=size, limit=limit, resume=state,
            checkpoint_every=checkpoint_every, on_checkpoint=lambda s: save_checkpoint(s, saved), progress=advance,
        )
    if result.interrupted:
        save_checkpoint(result.state, saved)
    pictures = _projection_pictures(loaded, result, project) if project and not result.interrupted else None
    index = write_examples(result, out, projections=pictures)
    if not result.interrupted:
        saved.unlink(missing_ok=True)
    _report(result, index)
    if result.interrupted:
        raise SystemExit(130)  # not typer.Exit: click returns its code instead of raising under standalone_mode=False


def _projection_pictures(model, result, method: str) -> dict:
    """Each top example's projection as a picture, cropped to the box the unit sees, like the example's crop."""
    pictures = {}
    for key, array in example_projections(model, result, method).items():
        layer, channel, kind, rank = key
        x0, y0, x1, y1 = result.layer(layer).box(kind, channel, rank - 1)
        pictures[key] = projection_picture(array)[y0:y1, x0:x1]
    return pictures


def _resume_state(resume: bool | None, out: Path, fingerprint: Callable[[], dict]) -> ExamplesState | None:
    """The checkpoint to continue from, per --resume (required) / --fresh (never) / default (when it matches)."""
    if resume is False:
        return None
    state, problem = load_checkpoint(checkpoint_path(out))
    if state is None:
        if resume:
            raise FeaturelensError(f"--resume: {problem} in {out}; run without --resume to start")
        if problem != "no checkpoint":
            typer.echo(f"note: {problem}; starting afresh", err=True)
        return None
    wanted = fingerprint()
    if state.fingerprint != wanted:
        differ = ", ".join(sorted(key for key in wanted if wanted[key] != state.fingerprint.get(key)))
        if resume:
            raise FeaturelensError(f"--resume: the checkpoint in {out} was made with other settings ({differ}); use --fresh to start over")
        typer.echo(f"note: ignoring the checkpoint in {out}, made with other settings ({differ}); starting afresh", err=True)
        return None
    typer.echo(f"resuming from {checkpoint_path(out)}: {state.entries} entries done", err=True)
    return state


def _report(result, index: Path) -> None:
    note = " (interrupted: rerun the same command to continue)" if result.interrupted else ""
    typer.echo(
        f"wrote {index}: {result.items_seen} images, {len(result.layers)} layer(s), k={result.k}, "
        f"{result.seconds:.1f} s ({result.images_per_second:.0f} images/s){note}",
        err=True,
    )
    if result.skipped:
        shown = "; ".join(f"{s.item} ({s.reason})" for s in result.skipped[:SKIPPED_SHOWN])
        more = f"; and {len(result.skipped) - SKIPPED_SHOWN} more" if len(result.skipped) > SKIPPED_SHOWN else ""
        typer.echo(f"skipped {len(result.skipped)} unreadable file(s): {shown}{more} (all in {index.parent / 'summary.json'})", err=True)
