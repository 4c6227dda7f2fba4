"""`featurelens music make|train`: render the labelled music collection, and train the cold-start network on it."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.help_examples import epilog
from featurelens.cli.options import DeviceOption, DryRunOption, ForceOption, SeedOption
from featurelens.output.paths import check_chosen_file, check_output_file, check_output_folder

music_app = typer.Typer(epilog=epilog("music"), help="The built-in music collection (music21 × FluidSynth) and the cold-start network (music-cnn).",
                        no_args_is_help=True)
_FOLDER_HELP = "Collection folder (default: ~/.cache/featurelens/music-collection, what --data music reads)."


def _cpu_only(device: str | None) -> None:
    if device not in (None, "cpu"):
        typer.echo(f"note: --device {device} ignored: rendering and this small network's training run on the CPU", err=True)


@music_app.command("make", epilog=epilog("music make"))
def make(
    clips: int = typer.Option(2000, "--clips", help="Clips in the collection (a larger number later extends the same songs)."),
    seconds: float = typer.Option(3.0, "--seconds", help="Length of each clip."),
    clips_per_song: int = typer.Option(4, "--clips-per-song", help="Instrument families each song is played by (1..7)."),
    seed: int = SeedOption,
    out: Path = typer.Option(None, "--out", "-o", help=_FOLDER_HELP),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Render labelled clips from the music21 corpus through FluidSynth (resumable: rerun to carry on after Ctrl-C)."""
    from featurelens.audio.jobs import CollectionJob, plan_collection

    if out is not None:
        check_output_folder(out)
    plan = plan_collection(out, CollectionJob(clips, seconds, seed, clips_per_song))
    _cpu_only(device)
    made = run_or_describe(plan, dry_run, f"labels in {plan.folder / 'labels.parquet'}")
    if made is None:
        return
    typer.echo(f"wrote {made.folder}: {made.clips} clips ({made.made} made in {made.seconds:.0f} s, {made.clips_per_second:.1f} "
               f"clips/s; {made.reused} already there; {made.failed_songs} songs music21 could not read skipped)", err=True)


@music_app.command("train", epilog=epilog("music train"))
def train(
    collection: Path = typer.Option(None, "--collection", help=_FOLDER_HELP),
    epochs: int = typer.Option(20, "--epochs", help="Passes over the training clips."),
    listeners: int = typer.Option(3000, "--listeners", help="Simulated listeners whose plays are factorised."),
    factors: int = typer.Option(32, "--factors", help="WMF factors the network learns to predict."),
    family_strength: float = typer.Option(2.0, "--family-strength", help="How much listeners' instrument tastes sway their plays."),
    seed: int = SeedOption,
    out: Path = typer.Option(None, "--out", "-o", help="Weights file; load it as the model spec music-cnn:FILE (default: music_cnn.pt, never replaced without --force)."),
    force: bool = ForceOption,
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Simulate listeners, factorise their plays, train music-cnn to predict the factors, evaluate on held-out songs."""
    from featurelens.audio.jobs import TrainingJob, plan_training

    target = check_output_file(out or Path("music_cnn.pt"), (".pt",))
    if out is None:
        check_chosen_file(target, force)
    plan = plan_training(collection, TrainingJob(epochs, listeners, factors, family_strength, seed))
    _cpu_only(device)
    result = run_or_describe(plan, dry_run, f"write to {target}")
    if result is None:
        return
    result.save(target)
    scores = ", ".join(f"{name} {values['auc']:.3f}" for name, values in result.summary()["scores"].items())
    note = " (interrupted: the last finished epoch)" if result.interrupted else ""
    typer.echo(f"wrote {target}: {result.cold_start.training.epochs} epochs on {result.clips} clips in {result.seconds:.0f} s"
               f"{note}; held-out AUC: {scores}", err=True)
