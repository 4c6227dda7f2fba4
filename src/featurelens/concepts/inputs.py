"""Where a concept's inputs come from: the positives (one or several sources) and the negatives (given, or a default).

Default negatives: the model's own test set when it names one (`LoadedModel.data`: fashion-cnn's is
`fashion-mnist:test`), else the bundled photos (`photos`). Pictures that are also positives are dropped from them
(`pooled.drop_repeats`), so "60 trousers of the test set against the test set" compares them with the other 9 940.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import torch

from featurelens.data.sources import ImageSource, SourceBatch, open_source
from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel

DEFAULT_NEGATIVES = "photos"  # for a model that names no data of its own


def default_negatives(model: LoadedModel) -> str:
    """The negatives when none are given: the model's own test data, else the bundled photos."""
    return model.data or DEFAULT_NEGATIVES


def source_name(spec: Any) -> str:
    """How a source spec reads on a page: its text, or the kind of object it is."""
    if isinstance(spec, (str, Path)):
        return str(spec)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(item, (str, Path)) for item in spec):
        return ", ".join(map(str, spec))
    if isinstance(spec, torch.Tensor):
        return f"a tensor of {len(spec)} images"
    return getattr(spec, "name", None) or f"images in a {type(spec).__name__}"


def open_inputs(spec: Any, parameter: str) -> ImageSource:
    """A source from a folder, a file, a built-in name, images in memory, or a list of folders/files (read one after
    the other); a source that cannot be opened is a one-line error naming `parameter`."""
    try:
        if isinstance(spec, (list, tuple)) and spec and all(isinstance(item, (str, Path)) for item in spec):
            sources = [open_source(item) for item in spec]
            return sources[0] if len(sources) == 1 else ChainedSource(sources)
        return open_source(spec)
    except FeaturelensError as err:
        raise FeaturelensError(f"{{parameter}}: {err}", parameter=parameter) from None


class ChainedSource(ImageSource):
    """Several sources read one after the other as one (e.g. `--positives text.jpg --positives page.jpg`)."""

    def __init__(self, sources: list[ImageSource]):
        self.sources = sources
        self.name = ", ".join(source.name for source in sources)
        self.starts = [sum(len(s) for s in sources[:i]) for i in range(len(sources))]

    def __len__(self) -> int:
        return sum(len(source) for source in self.sources)

    def _locate(self, index: int) -> tuple[ImageSource, int]:
        part = max(i for i, start in enumerate(self.starts) if start <= index)
        return self.sources[part], index - self.starts[part]

    def key(self, index: int) -> str | int:
        source, local = self._locate(index)
        return source.key(local)

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        source, local = self._locate(index)
        return source.image(local, channels, size)

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        stop = len(self) if stop is None else min(stop, len(self))
        for source, offset in zip(self.sources, self.starts):
            begin, end = max(start - offset, 0), min(stop - offset, len(source))
            if begin < end:
                for batch in source.batches(begin, end, batch_size, channels, size):
                    yield SourceBatch(batch.images, batch.indices + offset, batch.end + offset, batch.skipped)

    def close(self) -> None:
        for source in self.sources:
            source.close()
