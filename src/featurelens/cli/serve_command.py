"""`featurelens serve`: the live toolbox in the browser."""

from __future__ import annotations

from pathlib import Path

import typer

from featurelens.cli.options import DeviceOption, DryRunOption, ModelOption
from featurelens.server import plan_serve


def serve(
    model: str = ModelOption,
    data: str = typer.Option("photos", "--data", "-d", help="Where a unit's dataset examples come from: a folder of images, fashion-mnist:test, photos …; for an audio model a folder of audio files or music (the default)."),
    atlas: Path = typer.Option(None, "--atlas", help="Atlas folder to show and fill (see `featurelens atlas`)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: only this machine; 0.0.0.0: every network)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest upload accepted (an image, or a sound for an audio model)."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Serve the live page: a camera, video or image through the model, every channel of a layer in real time."""
    plan = plan_serve(model, data, atlas, host=host, port=port, max_upload_mb=max_upload_mb, device=device)
    if dry_run:
        typer.echo(f"would {plan.describe()}")
        return
    typer.echo(f"featurelens: open {plan.url} in a browser (Ctrl-C stops)", err=True)
    plan.run()
