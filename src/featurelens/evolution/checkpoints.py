"""Checkpoints of one architecture's training: finding them, and the model at each.

A checkpoint is a state-dict file for the model's architecture: a plain state dict, or a dict with
"state_dict" and optional facts ("label", "step", "epoch", "test_accuracy", as
`scripts/train_fashion_cnn.py` saves them). A folder means every .pt/.pth file in it, ordered by
the numbers in their names (step10 before step150).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence, Union

import torch

from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel
from featurelens.models.user_files import load_weights

CheckpointsInput = Union[None, str, Path, Sequence[Union[str, Path]]]
CHECKPOINT_SUFFIXES = (".pt", ".pth")
_FACTS = ("step", "epoch", "test_accuracy")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file, with its label (the file's own or its name) and the facts it records."""

    path: str
    label: str
    facts: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"label": self.label, "path": self.path, **self.facts}


def checkpoint_files(checkpoints: CheckpointsInput, model: LoadedModel) -> list[Path]:
    """The files meant: given files, comma-separated names, folders (their .pt/.pth files in numeric order),
    or, when None, the checkpoints the model ships from its own training."""
    if checkpoints is None:
        if model.training_checkpoints is None:
            raise FeaturelensError(f"model {model.spec!r} ships no training checkpoints: give {{parameter}} files or a folder", parameter="checkpoints")
        checkpoints = model.training_checkpoints
    items = [checkpoints] if isinstance(checkpoints, (str, Path)) else list(checkpoints)
    names = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
    files: list[Path] = []
    for name in names:
        path = Path(name).expanduser()
        if path.is_dir():
            found = sorted((p for p in path.iterdir() if p.suffix in CHECKPOINT_SUFFIXES), key=_numeric_order)
            if not found:
                raise FeaturelensError(f"folder {name!r} holds no .pt or .pth checkpoint files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FeaturelensError(f"checkpoint {name!r} not found: give state-dict files or a folder of them")
    if len(files) < 2:
        raise FeaturelensError(f"{{parameter}} names {len(files)} file(s): a timeline needs at least two checkpoints", parameter="checkpoints")
    return files


def read_checkpoint(path: Path, model: LoadedModel) -> Checkpoint:
    """The checkpoint's label and facts, once its weights are seen to fit `model` (they are loaded by `model_at`)."""
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, ValueError, OSError, EOFError) as err:
        raise FeaturelensError(f"cannot read checkpoint {str(path)!r}: {(str(err).strip().splitlines() or [type(err).__name__])[0]}") from None
    facts, label, state = {}, path.stem, content
    if isinstance(content, dict) and "state_dict" in content:
        facts = {key: content[key] for key in _FACTS if isinstance(content.get(key), (int, float))}
        label, state = str(content.get("label") or label), content["state_dict"]
    expected = {name: tuple(t.shape) for name, t in model.module.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()} if isinstance(state, dict) else {}
    if found != expected:
        differ = sorted(set(expected) ^ set(found)) or sorted(n for n in expected if expected[n] != found[n])
        raise FeaturelensError(f"checkpoint {str(path)!r} does not fit model {model.spec!r} (differs in {', '.join(differ[:3])}): give checkpoints of this architecture")
    return Checkpoint(str(path), label, facts)


def model_at(model: LoadedModel, checkpoint: Checkpoint) -> LoadedModel:
    """A copy of `model` (same conventions and knowledge) with the checkpoint's weights, loaded strictly."""
    module = copy.deepcopy(model.module)
    load_weights(module, checkpoint.path, model.spec)
    return replace(model, module=module, spec=f"{model.spec}@{checkpoint.label}", probes={}, _norm_cache={})


def _numeric_order(path: Path) -> tuple:
    """Sort key that orders the numbers in a file name by value: step10 < step150 < step1000."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))
