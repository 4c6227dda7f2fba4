"""Starting the server: check the model, the data source, the atlas folder, the address and who may use it, then run uvicorn."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import torch

from featurelens.errors import FeaturelensError, bad_parameter
from featurelens.models import LoadedModel, model_for
from featurelens.atlas.files import MANIFEST
from featurelens.output.paths import check_output_folder
from featurelens.server.limits import ServerLimits
from featurelens.server.guard import WILDCARD_HOSTS, allowed_hosts_for, new_token
from featurelens.server.unit_views import default_atlas_folder

LOCAL = "127.0.0.1"
SHUTDOWN_SECONDS = 5  # Ctrl-C: open connections get this long before they are cut
# How uvicorn runs the app. No per-message deflate on the live socket: zlib on every answer (the maps, 20–100 kB) cost
# the event loop ~5 ms a frame, more than half the model's own time, and frames (JPEG) do not compress anyway.
UVICORN_OPTIONS = {"log_level": "warning", "timeout_graceful_shutdown": SHUTDOWN_SECONDS, "ws_per_message_deflate": False}


@dataclass
class ServePlan:
    """A checked server: model, data source for examples, atlas folder (given, or the default one), address, token."""

    model: LoadedModel
    data: str
    atlas: Path
    host: str
    port: int
    token: str | None
    allow_hosts: tuple[str, ...] = ()
    limits: ServerLimits = field(default_factory=ServerLimits)

    @property
    def url(self) -> str:
        """The address to open: with the token, which the page then keeps in a cookie."""
        host = LOCAL if self.host.strip("[]") in WILDCARD_HOSTS else self.host
        host = f"[{host}]" if ":" in host and not host.startswith("[") else host
        return f"http://{host}:{self.port}/" + (f"?token={self.token}" if self.token else "")

    def warnings(self) -> list[str]:
        """What the user should know before others can reach the server."""
        said = []
        if self.token is None:
            said.append("--no-token: any program or web page that can reach this port can drive the server")
        if self.host.strip("[]") in WILDCARD_HOSTS:
            said.append(f"--host {self.host}: every network this machine is on can reach the server; only the token keeps others out")
        return said

    def describe(self) -> str:
        access = "a token required" if self.token else "no token required"
        if self.host.strip("[]") in WILDCARD_HOSTS:
            access += f", listening on every interface ({self.host})"
        return f"serve {self.model.spec} on {self.model.device} at {self.url.split('?')[0]} (examples from {self.data}, unit views in {self.atlas}; {access})"

    def run(self, progress=None) -> None:
        """Serve until Ctrl-C (queued jobs are cancelled; open connections get a few seconds)."""
        import uvicorn

        from featurelens.server.app import create_app

        app = create_app(self.model, data=self.data, atlas=self.atlas, token=self.token,
                         hosts=allowed_hosts_for(self.host, self.allow_hosts), limits=self.limits)
        uvicorn.run(app, host=self.host, port=self.port, **UVICORN_OPTIONS)


def plan_serve(
    model: LoadedModel | str, data: str = "photos", atlas: str | Path | None = None, *,
    host: str = LOCAL, port: int = 8000, token: bool | str = True, allow_hosts: tuple[str, ...] = (),
    limits: ServerLimits = ServerLimits(), device: torch.device | str | None = None,
) -> ServePlan:
    """Check everything the server needs before it starts (the port must be free). `token`: True makes a random
    one, a string is used as given, False serves without one (never on every interface)."""
    if not 0 < port < 65536:
        raise bad_parameter("port", f"must be between 1 and 65535, got {port}")
    _check_limits(limits)
    if token is False and host.strip("[]") in WILDCARD_HOSTS:
        raise bad_parameter("host", f"{host} with --no-token would let anyone on the network drive the server: keep the token, or listen on 127.0.0.1")
    if isinstance(token, str) and len(token) < 16:
        raise bad_parameter("token", "must be at least 16 characters (or leave it out: a random one is made)")
    loaded = model_for(model, device)
    data = loaded.modality.data_spec(data)  # audio: "music" (also for the image default "photos") or a folder of audio files
    folder = _atlas_folder(atlas) if atlas is not None else default_atlas_folder(loaded, str(data))
    check_output_folder(folder)
    _check_address(host, port)
    chosen = new_token() if token is True else (token or None)
    return ServePlan(loaded, str(data), folder, host, port, chosen, tuple(allow_hosts), limits)


def serve(model: LoadedModel | str = "efficientnet-lite0", data: str = "photos", atlas: str | Path | None = None, *,
          host: str = LOCAL, port: int = 8000, token: bool | str = True, limits: ServerLimits = ServerLimits(),
          device: torch.device | str | None = None) -> None:
    """Serve the live page for `model` at http://host:port/?token=… until Ctrl-C (127.0.0.1: only this machine can connect)."""
    plan = plan_serve(model, data, atlas, host=host, port=port, token=token, limits=limits, device=device)
    print(f"featurelens: open {plan.url} in a browser (Ctrl-C stops)")
    plan.run()


def _atlas_folder(atlas: str | Path) -> Path:
    """The atlas folder to serve: empty, new, or an atlas (one with atlas.json); never any other folder, whose files
    would all be served."""
    if not str(atlas).strip():
        raise bad_parameter("atlas", "is empty: name a folder for the atlas (it is made if missing), or leave --atlas out")
    folder = Path(atlas).expanduser()
    if folder.is_dir() and not (folder / MANIFEST).is_file() and any(folder.iterdir()):
        raise bad_parameter("atlas", f"{str(folder)!r} is not an atlas (no {MANIFEST}) and not empty: every file in it would be served; name an atlas folder or a new one")
    return folder


def _check_limits(limits: ServerLimits) -> None:
    if limits.max_upload_mb <= 0:
        raise bad_parameter("max_upload_mb", f"must be positive, got {limits.max_upload_mb:g}")
    for name in ("max_jobs", "max_jobs_per_client", "max_connections"):
        if getattr(limits, name) < 1:
            raise bad_parameter(name, f"must be at least 1, got {getattr(limits, name)}")


def _check_address(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        reason = err.strerror or str(err)
        raise FeaturelensError(f"cannot listen on {host}:{port} ({reason}): pass another --port or --host", parameter="port") from None
