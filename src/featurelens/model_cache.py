"""Figures computed once per model and kept on disk, so the next command on the same weights reads them.

Entries live in `cache_dir()/models/DIGEST/NAME-KEYHASH.json`, DIGEST being the weights' SHA-1
(`models.weights_digest`): other weights never see them. Each entry stores the key it was computed
for (the computation's settings and version), so a changed setting or a newer version misses. A
missing, unreadable or corrupt file is a miss and is written again; a cache folder that cannot be
written costs the computation, never the command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from featurelens.models import LoadedModel, weights_digest

CACHE_ENV = "FEATURELENS_CACHE_DIR"


def cache_dir() -> Path:
    """Where featurelens keeps what it computed: $FEATURELENS_CACHE_DIR, else $XDG_CACHE_HOME/featurelens, else ~/.cache/featurelens."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "featurelens"


class ModelCache:
    """The cached entries of one model's weights: `read(name, key)` → the stored value or None; `write` stores one."""

    def __init__(self, digest: str):
        self.digest = digest

    @classmethod
    def of(cls, model: LoadedModel) -> "ModelCache":
        """The cache of `model`'s current weights (hashed now: about 30 ms for EfficientNet-Lite0)."""
        return cls(weights_digest(model.module))

    @property
    def folder(self) -> Path:
        return cache_dir() / "models" / self.digest

    def path(self, name: str, key: dict) -> Path:
        text = json.dumps(key, sort_keys=True)
        return self.folder / f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:16]}.json"

    def read(self, name: str, key: dict) -> Any | None:
        """The value stored for (`name`, `key`), or None when absent, unreadable or stored for another key."""
        try:
            stored = json.loads(self.path(name, key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or stored.get("key") != json.loads(json.dumps(key)):
            return None
        return stored.get("value")

    def write(self, name: str, key: dict, value: Any) -> None:
        """Store `value` (JSON-able) for (`name`, `key`) atomically; a folder that cannot be written is skipped."""
        path = self.path(name, key)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps({"key": key, "value": value}))
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):  # e.g. its folder could not be made
                temporary.unlink(missing_ok=True)
