"""Tunes from the music21 corpus (bundled in its wheel, offline): an index of songs and their notes in beats."""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The corpus folders the collection draws on, and how often a song is drawn from each.
# Folk collections are monophonic tunes; Bach chorales and Palestrina masses are four-voice polyphony.
COLLECTION_WEIGHTS: dict[str, float] = {
    "essenFolksong": 0.30, "oneills1850": 0.15, "ryansMammoth": 0.15,
    "airdsAirs": 0.10, "bach": 0.15, "palestrina": 0.15,
}


@dataclass(frozen=True)
class SongRef:
    """One song of the corpus: a file, and the tune number (ABC 'X:' field) inside it for multi-tune files."""

    collection: str
    path: str  # relative to the music21 corpus folder
    number: int | None = None

    @property
    def song_id(self) -> str:
        return self.path if self.number is None else f"{self.path}#{self.number}"


@dataclass(frozen=True)
class Tune:
    """A song's notes in beats (quarter lengths): onset, duration and MIDI pitch arrays, one row per sounding pitch."""

    ref: SongRef
    title: str
    mode: str  # 'major' or 'minor', from music21's key analysis
    meter: str  # time signature, e.g. '3/4', '6/8'
    beats_per_bar: float  # bar length in quarter notes
    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray

    @property
    def length(self) -> float:
        """Length in quarter notes, from the first onset to the last release."""
        return float((self.onset + self.duration).max())


def corpus_root() -> Path:
    """The music21 corpus folder inside the installed wheel."""
    from music21 import corpus

    return Path(corpus.__file__).parent


@functools.lru_cache(maxsize=None)
def song_index(collection: str) -> tuple[SongRef, ...]:
    """Every song of one corpus collection, in a fixed order (multi-tune ABC files are split by their 'X:' numbers)."""
    root = corpus_root()
    suffixes = {"bach": ".mxl", "palestrina": ".krn"}
    files = sorted((root / collection).rglob(f"*{suffixes.get(collection, '.abc')}"))
    refs: list[SongRef] = []
    for file in files:
        relative = file.relative_to(root).as_posix()
        if file.suffix != ".abc":
            refs.append(SongRef(collection, relative))
            continue
        numbers = re.findall(r"^X:\s*(\d+)", file.read_text(errors="ignore"), flags=re.MULTILINE)
        if len(numbers) <= 1:
            refs.append(SongRef(collection, relative))
        else:
            refs.extend(SongRef(collection, relative, int(n)) for n in dict.fromkeys(numbers))
    return tuple(refs)


def load_tune(ref: SongRef) -> Tune:
    """Parse one song with music21 and flatten it to notes (ties merged, chords split, all parts together).

    Raises whatever music21 raises for a tune it cannot read; the caller skips such songs.
    """
    from music21 import corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = corpus.parse(str(corpus_root() / ref.path), number=ref.number) if ref.number else corpus.parse(
            str(corpus_root() / ref.path))
        flat = score.stripTies().flatten()
        rows = []
        for element in flat.notes:
            length = max(float(element.duration.quarterLength), 0.125)  # grace notes have no length
            for pitch in element.pitches:
                rows.append((float(element.offset), length, pitch.midi))
        if not rows:
            raise ValueError("no notes")
        mode = score.analyze("key").mode
        meters = flat.getElementsByClass("TimeSignature")
        meter = meters[0].ratioString if len(meters) else "4/4"
        bar = float(meters[0].barDuration.quarterLength) if len(meters) else 4.0
    onset, duration, pitch = (np.array(column) for column in zip(*rows))
    onset = onset - onset.min()
    title = (score.metadata.title if score.metadata is not None and score.metadata.title else "") or ref.song_id
    return Tune(ref, str(title), "minor" if mode == "minor" else "major", meter, bar or 4.0,
                onset, duration, pitch.astype(np.int64))
