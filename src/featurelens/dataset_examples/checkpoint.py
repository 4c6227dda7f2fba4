"""Checkpoint files of an examples pass, and the policy for continuing from one.

A long pass saves its running state every N batches; running the same job again continues from
that file when it was made with the same settings (same model and weights, source files, layers,
k, reduce, size). `resume` True insists on continuing, False ignores the file, None (the default)
continues when it matches and otherwise starts afresh with a note saying why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import torch

from featurelens.errors import FeaturelensError
from featurelens.dataset_examples.state import ExamplesState

CHECKPOINT_NAME = "checkpoint.pt"


def save_checkpoint(state: Any, path: Path) -> None:
    """Write the state (anything with `to_dict`) atomically (temp file, then rename), so a kill mid-write leaves the
    previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(state.to_dict(), temporary)
    os.replace(temporary, path)


def load_checkpoint(path: Path, read: Callable[[dict], Any] = ExamplesState.from_dict) -> tuple[Any, str | None]:
    """(state, None), or (None, why not) when the file is missing or unreadable (`read`: the state's `from_dict`)."""
    if not path.is_file():
        return None, "no checkpoint"
    try:
        return read(torch.load(path, map_location="cpu", weights_only=True)), None
    except Exception as err:  # a damaged checkpoint must not stop a fresh start
        return None, f"unreadable checkpoint {path} ({type(err).__name__})"


def state_to_resume(path: Path, resume: bool | None, fingerprint: dict,
                    read: Callable[[dict], Any] = ExamplesState.from_dict) -> tuple[Any, str | None]:
    """(the state to continue from or None, a note for the user or None), per the policy above."""
    if resume is False:
        return None, None
    state, problem = load_checkpoint(path, read)
    if state is None:
        if resume:
            raise FeaturelensError(f"{{parameter}}: {problem} in {path.parent}; start without {{parameter}}", parameter="resume")
        return None, (None if problem == "no checkpoint" else f"{problem}; starting afresh")
    if state.fingerprint != fingerprint:
        differ = ", ".join(sorted(key for key in fingerprint if fingerprint[key] != state.fingerprint.get(key)))
        if resume:
            raise FeaturelensError(f"{{parameter}}: the checkpoint {path} was made with other settings ({differ}); start afresh instead", parameter="resume")
        return None, f"ignoring the checkpoint {path}, made with other settings ({differ}); starting afresh"
    return state, f"resuming from {path}: {state.entries} entries done"
