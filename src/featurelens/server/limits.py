"""How much work the server takes on at once: one definition, read by `create_app`, `plan_serve` and the CLI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerLimits:
    """How much work the server takes on at once (each bound said in `featurelens serve --help`)."""

    max_upload_mb: float = 10.0  # the largest upload accepted
    max_jobs: int = 8  # background builds queued or running, all clients together
    max_jobs_per_client: int = 4  # … for one client address
    max_connections: int = 8  # live sockets open at once (pages, tabs, scripts)
