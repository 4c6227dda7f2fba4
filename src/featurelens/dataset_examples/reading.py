"""How the examples pass reads its entries: what it asks of a reader (`EntryReader`), and the reader of a model's
modality (`inputs_for`): `ImageInputs` for images, `ClipInputs` for sound."""

from __future__ import annotations

from typing import Any, Iterator, Protocol

import torch

from featurelens.dataset_examples.clip_inputs import ClipInputs
from featurelens.dataset_examples.entries import DoneEntries, EntryBatch
from featurelens.dataset_examples.image_inputs import ImageInputs
from featurelens.dataset_examples.result import ExampleInputs
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel

READERS = {"image": ImageInputs, "audio": ClipInputs}  # `Modality.name` → the entries' reader


class EntryReader(ExampleInputs, Protocol):
    """What the one examples pass asks of its entries beyond how a result shows them (`result.ExampleInputs`)."""

    source: Any  # an `ImageSource` or an `AudioSource`: `len`, `name`, `fingerprint`, `random_access`, `close`
    unavailable: dict[str, Any]  # settings this kind of entry refuses, with their defaults (e.g. a clip's `size`)

    @property
    def size(self) -> int: ...  # the side an image is read at, or the frames of an audio model's own clip

    @property
    def max_batch(self) -> int | None: ...  # entries the model takes at once (None: any number)

    def layer_shapes(self, model: LoadedModel, names: list[str]) -> dict[str, tuple[int, ...]]: ...

    def fields(self, model: LoadedModel, names: list[str]) -> dict: ...

    def describe(self, entries: int, k: int, reduce: str) -> str: ...

    def map_size(self, shape: tuple[int, ...]) -> tuple[int, int]: ...

    def batches(self, model: LoadedModel, done: DoneEntries, stop: int | None, batch_size: int) -> Iterator[EntryBatch]: ...

    def checkpoint(self, done: DoneEntries) -> dict: ...

    def restore(self, state: dict) -> None: ...

    def notes(self) -> list[str]: ...

    def with_cached(self, images: dict[int, torch.Tensor]) -> ExampleInputs: ...


def inputs_for(model: LoadedModel, data: Any, size: int | None, workers: int | None) -> EntryReader:
    """`data` opened as `model`'s modality reads it (`size`: an image's side; `workers`: threads decoding image files)."""
    reader = READERS.get(model.modality.name)
    if reader is None:
        raise FeaturelensError(f"examples cannot read inputs of {model.spec} (modality {model.modality.name!r})")
    return reader.opened(model, data, size, workers)
