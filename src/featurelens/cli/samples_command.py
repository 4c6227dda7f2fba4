"""`featurelens samples DIR`: sample inputs as files (photos, Fashion-MNIST items, music clips, checkpoints) for the README."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.dry_run import run_or_describe
from featurelens.cli.options import DryRunOption


def samples(
    folder: Path = typer.Argument(..., metavar="DIR", help="Folder to write into (made if missing; files already there are replaced)."),
    only: str = typer.Option(None, "--only", help="Parts to write, comma-separated: photos,fashion,songs,checkpoints (default: all)."),
    dry_run: bool = DryRunOption,
) -> None:
    """Write sample inputs with stable names: cat.jpg, photos/, shirt.png, fashion/, songs/, checkpoints/, first.pt, last.pt."""
    from featurelens.sample_inputs import plan_samples

    plan = plan_samples(folder, only)
    written = run_or_describe(plan, dry_run, "nothing is downloaded")
    if written is None:
        return
    parts = ", ".join(f"{part} {count}" for part, count in written.summary()["parts"].items())
    parts = f" ({parts})" if parts else ""
    replaced = f"; {written.replaced} files already there replaced" if written.replaced else ""
    typer.echo(f"wrote {len(written.files)} files into {written.folder}{parts}{replaced} in {written.seconds:.1f} s", err=True)
    for part, reason in written.skipped.items():
        typer.echo(f"note: {part} skipped: {reason}", err=True)
