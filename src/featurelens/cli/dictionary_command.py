"""`featurelens dictionary`: learn a sparse dictionary over one layer and write the file `--dictionary FILE` reads."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import AddressOption, DeviceOption, DryRunOption, EngineOption, LayoutOption, ModelOption, SeedOption, with_model_options
from featurelens.dictionary.api import DictionarySettings as Defaults, plan_dictionary
from featurelens.dictionary.file import METHODS


def dictionary(
    layer: str = typer.Option(..., "--layer", "-l", help="The layer whose activations (at every position) the dictionary rebuilds (see `featurelens layers`)."),
    data: str = typer.Option(..., "--data", "-d", help="Training data: a folder of images, fashion-mnist:train, fashion-mnist:test or photos."),
    out: Path = typer.Option(..., "--out", "-o", help="The dictionary file to write (.pt); its checkpoint is OUT.checkpoint beside it while training."),
    model: str = ModelOption,
    method: str = typer.Option(Defaults.method, "--method", help=f"Sparse autoencoder: {', '.join(METHODS)} (Gao et al. 2024; Bussmann et al. 2024; Fel et al. 2025)."),
    features: int = typer.Option(None, "--features", help="Features in the dictionary (default: 8 × the layer's channels)."),
    k: int = typer.Option(Defaults.k, "--k", "-k", help="Active features per position (batchtopk: on average)."),
    steps: int = typer.Option(None, "--steps", help="Training steps (default: from --epochs)."),
    epochs: float = typer.Option(Defaults.epochs, "--epochs", help="Passes over the training data, when --steps is not given."),
    batch_rows: int = typer.Option(Defaults.batch_rows, "--batch-rows", help="Positions per training step."),
    learning_rate: float = typer.Option(Defaults.learning_rate, "--lr", help="Adam learning rate (falls to 0 over the last fifth of the steps)."),
    buffer_rows: int = typer.Option(Defaults.buffer_rows, "--buffer-rows", help="Positions the shuffle buffer holds at most (activations are never all in memory)."),
    anchored: bool = typer.Option(Defaults.anchored, "--anchored", help="Each feature's encoder keeps the direction of an archetype (a centroid of the data's extreme points); only its gain and bias are learned: features that answer to one kind of input."),
    anchor_relaxation: float = typer.Option(Defaults.anchor_relaxation, "--anchor-relaxation", help="With --anchored: how far (in norm, 0 … 2) an encoder direction may move from its archetype."),
    closed_form: bool = typer.Option(Defaults.closed_form, "--closed-form", help="With --anchored (topk): no gradient steps: each feature's gain and bias standardize its value over the first batches and the decoder is the least-squares fit over --steps batches. The directions (what a feature answers to) stay the archetypes'; each feature wins the positions it is most extreme on, so features rarely die."),
    whiten: bool = typer.Option(Defaults.whiten, "--whiten/--no-whiten", help="Learn over ZCA-whitened activations (the file still reads the raw layer)."),
    limit: int = typer.Option(None, "--limit", help="Train on only the first N entries of --data."),
    eval_data: str = typer.Option(None, "--eval-data", help="Data the figures are measured on (default: fashion-mnist:test for fashion-mnist:train, else --data)."),
    eval_limit: int = typer.Option(Defaults.eval_limit, "--eval-limit", help="Measure on only the first N entries of the evaluation data."),
    name: str = typer.Option(Defaults.name, "--name", help="The dictionary's name: its features are the units LAYER/NAME:F."),
    checkpoint_every: int = typer.Option(Defaults.checkpoint_every, "--checkpoint-every", help="Save a checkpoint every N steps (0: never)."),
    resume: bool = typer.Option(None, "--resume/--fresh", help="Continue from OUT.checkpoint (error if none matches) / ignore it. Default: continue when it matches."),
    engine: str = EngineOption,
    address: str = AddressOption,
    seed: int = SeedOption,
    layout: list[str] = LayoutOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Learn a sparse dictionary (a sparse autoencoder) over a layer's activations, streamed from --data; print its figures.

    The figures, on the evaluation data: variance explained, mean active features per position (L0), dead features,
    the model's accuracy with the layer replaced by its reconstruction, and (on labelled data) the top-9 class purity of
    the layer's neurons and of the live features. Use the file with --dictionary FILE on every command: feature F is the
    unit LAYER/NAME:F.
    """
    settings = Defaults(method=method, features=features, k=k, steps=steps, epochs=epochs, batch_rows=batch_rows,
                         learning_rate=learning_rate, buffer_rows=buffer_rows, anchored=anchored, anchor_relaxation=anchor_relaxation, closed_form=closed_form, whiten=whiten, limit=limit, name=name, eval_data=eval_data,
                         eval_limit=eval_limit, checkpoint=checkpoint_path(out), checkpoint_every=checkpoint_every, resume=resume,
                         engine=engine, address=address)
    plan = plan_dictionary(with_model_options(model, layout, None, device), data, layer, settings, device=device, seed=seed)
    for note in plan.notes:
        typer.echo(f"note: {note}", err=True)
    result = run_or_describe(plan, dry_run, f"write to {out}")
    if result is None:
        return
    if result.interrupted:
        typer.echo(f"interrupted after {result.steps} steps: rerun the same command to continue", err=True)
        raise SystemExit(130)
    result.save(out)
    typer.echo(result.summary())
    typer.echo(f"wrote {out}: use it with --dictionary {out} (units {result.dictionary.address}:0..{result.dictionary.features - 1})", err=True)


def checkpoint_path(out: Path) -> Path:
    """Where a training run for `out` keeps its checkpoint."""
    return out.with_name(out.name + ".checkpoint")
