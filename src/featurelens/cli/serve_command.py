"""`featurelens serve`: the live toolbox in the browser."""

from __future__ import annotations

import typer

from featurelens.cli.options import DeviceOption, DryRunOption, DictionaryOption, LayoutOption, ModelOption, with_model_options
from featurelens.server.limits import ServerLimits
from featurelens.server.serve import plan_serve

LIMITS = ServerLimits()  # the option defaults: the limits' own, defined once


def serve(
    model: str = ModelOption,
    layout: list[str] = LayoutOption,
    dictionary: list[str] = DictionaryOption,
    data: str = typer.Option("photos", "--data", "-d", help="Where a unit's dataset examples come from: a folder of images, fashion-mnist:test, photos …; for an audio model a folder of audio files or music (the default)."),
    atlas: str = typer.Option(None, "--atlas", help="Atlas folder to show and fill (see `featurelens atlas`): an atlas, an empty folder or a new one."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: only this machine; 0.0.0.0: every network, never without the token)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    no_token: bool = typer.Option(False, "--no-token", help="Serve without the token in the URL: any program or web page that reaches the port can then drive the server."),
    token: str = typer.Option(None, "--token", help="Use this token (16+ characters) instead of a random one, e.g. to bookmark the URL."),
    allow_host: list[str] = typer.Option([], "--allow-host", help="Also answer requests addressed to this host name (by default only 127.0.0.1, localhost, ::1 and --host); repeat for more."),
    max_upload_mb: float = typer.Option(LIMITS.max_upload_mb, "--max-upload-mb", help="Largest upload accepted (an image, or a sound for an audio model)."),
    max_jobs: int = typer.Option(LIMITS.max_jobs, "--max-jobs", help="Background builds (renders, examples) queued or running at once; past it the page is told the server is busy (429)."),
    max_jobs_per_client: int = typer.Option(LIMITS.max_jobs_per_client, "--max-jobs-per-client", help="The same, for one client address."),
    max_connections: int = typer.Option(LIMITS.max_connections, "--max-connections", help="Live connections (open pages) served at once."),
    device: str = DeviceOption,
    dry_run: bool = DryRunOption,
) -> None:
    """Serve the live page: a camera, video or image through the model, every channel of a layer in real time.

    Only you can drive it: open the printed URL, whose token the page keeps in a cookie.
    """
    limits = ServerLimits(max_upload_mb, max_jobs, max_jobs_per_client, max_connections)
    plan = plan_serve(with_model_options(model, layout, dictionary, device), data, atlas, host=host, port=port, token=False if no_token else (token or True),
                      allow_hosts=tuple(allow_host), limits=limits, device=device)
    for warning in plan.warnings():
        typer.secho(f"warning: {warning}", err=True, fg="yellow")
    if dry_run:
        typer.echo(f"would {plan.describe()}")
        return
    typer.echo(f"featurelens: open {plan.url} in a browser (Ctrl-C stops)", err=True)
    plan.run()
