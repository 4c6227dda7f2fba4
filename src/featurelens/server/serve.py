"""Starting the server: check the model, the data source, the atlas folder and the address, then run uvicorn."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import torch

from featurelens.dataset_examples.sources import open_source
from featurelens.errors import FeaturelensError, bad_parameter
from featurelens.models import LoadedModel, model_for
from featurelens.output.paths import check_output_folder
from featurelens.server.unit_views import default_atlas_folder

LOCAL = "127.0.0.1"


@dataclass
class ServePlan:
    """A checked server: model, data source for examples, atlas folder (given, or the default one), address."""

    model: LoadedModel
    data: str
    atlas: Path
    host: str
    port: int
    max_upload_mb: float = 10.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def describe(self) -> str:
        return f"serve {self.model.spec} on {self.model.device} at {self.url} (examples from {self.data}, unit views in {self.atlas})"

    def run(self, progress=None) -> None:
        """Serve until Ctrl-C."""
        import uvicorn

        from featurelens.server.app import create_app

        app = create_app(self.model, data=self.data, atlas=self.atlas, max_upload_bytes=int(self.max_upload_mb * (1 << 20)))
        uvicorn.run(app, host=self.host, port=self.port, log_level="warning")


def plan_serve(
    model: LoadedModel | str, data: str = "photos", atlas: str | Path | None = None, *,
    host: str = LOCAL, port: int = 8000, max_upload_mb: float = 10.0, device: torch.device | str | None = None,
) -> ServePlan:
    """Check everything the server needs before it starts (the port must be free)."""
    if not 0 < port < 65536:
        raise bad_parameter("port", f"must be between 1 and 65535, got {port}")
    if max_upload_mb <= 0:
        raise bad_parameter("max_upload_mb", f"must be positive, got {max_upload_mb}")
    loaded = model_for(model, device)
    open_source(data).close()
    folder = Path(atlas) if atlas is not None else default_atlas_folder(loaded, str(data))
    check_output_folder(folder)
    _check_address(host, port)
    return ServePlan(loaded, str(data), folder, host, port, max_upload_mb)


def serve(model: LoadedModel | str = "efficientnet-lite0", data: str = "photos", atlas: str | Path | None = None, *,
          host: str = LOCAL, port: int = 8000, max_upload_mb: float = 10.0, device: torch.device | str | None = None) -> None:
    """Serve the live page for `model` at http://host:port/ until Ctrl-C (127.0.0.1: only this machine can connect)."""
    plan_serve(model, data, atlas, host=host, port=port, max_upload_mb=max_upload_mb, device=device).run()


def _check_address(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as err:
        reason = err.strerror or str(err)
        raise FeaturelensError(f"cannot listen on {host}:{port} ({reason}): pass another --port or --host", parameter="port") from None
