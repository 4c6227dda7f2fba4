"""One row of an examples table, of images or of clips: plain data that the result and its writer both read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterator, Mapping, Sequence

ExampleKey = tuple[str, int, str, int]  # (layer, channel, kind, rank from 1)


@dataclass(frozen=True)
class ExampleRow:
    """What every row of an examples table starts with: the unit, the end ("max" top, "min" bottom), the rank from 1
    (the strongest), the score and the entry's index in the source."""

    layer: str
    channel: int
    kind: str
    rank: int
    score: float
    index: int


@dataclass(frozen=True)
class Example(ExampleRow):
    """One row of the examples table of images; box = (x0, y0, x1, y1), x1/y1 exclusive."""

    item: str | int
    y: int
    x: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class AudioExample(ExampleRow):
    """One row of the table of clips. `step`: the unit's time step at the peak (trough); times in seconds, inside the clip."""

    item: str
    label: str  # a collection clip's family · instrument, else ""
    step: int
    peak: float  # the centre of what the unit at `step` hears
    start: float  # the excerpt: what the unit at `step` hears
    end: float
    duration: float  # the whole clip, as the model heard it


def ranked_slots(layers: Sequence[Any], channels: Mapping[str, Collection[int]] | None) -> Iterator[tuple[Any, int, str, int]]:
    """(layer, channel, kind, rank from 0) of every example, in table order: layer by layer, channel by channel, "max"
    before "min"; with `channels` ({layer: channels}), only those."""
    for layer in layers:
        chosen = range(layer.channels) if channels is None else sorted(channels.get(layer.layer, ()))
        for channel in chosen:
            for kind in ("max", "min"):
                for rank in range(layer.ranked[kind].scores.shape[1]):
                    yield layer, channel, kind, rank
