"""Turn a tune into the notes of one clip: tempo, transposition into a register, a window of the tune, drum patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from featurelens.audio.instruments import REGISTER_TARGETS
from featurelens.audio.scores import Tune
from featurelens.audio.synth import NoteEvent

# GM drum sounds (channel 10 keys).
KICK, RIM, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, LOW_TOM, MID_TOM, HIGH_TOM, CRASH, RIDE = (
    36, 37, 38, 39, 42, 46, 45, 48, 50, 49, 51)

# Drum grooves on a sixteenth-note grid, one bar each: {drum: steps}. Keyed by the bar's length in quarters.
GROOVES: dict[str, dict[int, tuple[int, ...]]] = {
    "rock": {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "four-on-the-floor": {KICK: (0, 4, 8, 12), CLAP: (4, 12), OPEN_HAT: (2, 6, 10, 14)},
    "half-time": {KICK: (0, 3, 10), SNARE: (8,), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "breakbeat": {KICK: (0, 6, 10), SNARE: (4, 12, 15), CLOSED_HAT: tuple(range(16))},
    "jazz-ride": {RIDE: (0, 4, 7, 8, 12, 15), CLOSED_HAT: (4, 12), KICK: (0,)},
    "waltz": {KICK: (0,), SNARE: (4, 8), CLOSED_HAT: (0, 2, 4, 6, 8, 10)},
    "compound": {KICK: (0,), SNARE: (6,), CLOSED_HAT: (0, 2, 4, 6, 8, 10)},
}
GROOVE_BAR = {"waltz": 3.0, "compound": 3.0}  # a 3/4 bar, a 6/8 bar; the others span a 4/4 bar


@dataclass(frozen=True)
class Arrangement:
    """How a tune becomes a clip: tempo, transposition (semitones), where in the tune (quarters) it starts, loudness."""

    tempo: float  # quarter notes per minute
    transpose: int
    start: float
    velocity: int


def choose_arrangement(tune: Tune, register: str | None, rng: np.random.Generator) -> Arrangement:
    """Random tempo (log-uniform 60-180 bpm), key shift and start bar; octaves that move the median pitch to `register`.

    With `register=None` (drums) no octave shift is made.
    """
    tempo = float(np.exp(rng.uniform(np.log(60), np.log(180))))
    shift = int(rng.integers(-5, 7))
    if register is not None:
        median = float(np.median(tune.pitch)) + shift
        shift += 12 * int(round((REGISTER_TARGETS[register] - median) / 12))
    bars = max(int(tune.length // tune.beats_per_bar), 1)
    start = float(rng.integers(0, max(bars // 2, 1))) * tune.beats_per_bar
    return Arrangement(tempo, shift, start, int(rng.integers(70, 111)))


def _looped(tune: Tune, start: float, beats: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsets (from `start`), durations and pitches covering `beats` quarters, repeating the tune if it is too short."""
    onsets, durations, pitches = [], [], []
    offset = -start
    while offset < beats:
        onsets.append(tune.onset + offset)
        durations.append(tune.duration)
        pitches.append(tune.pitch)
        offset += max(tune.length, tune.beats_per_bar)
    onset, duration, pitch = np.concatenate(onsets), np.concatenate(durations), np.concatenate(pitches)
    keep = (onset >= 0) & (onset < beats)
    return onset[keep], duration[keep], pitch[keep]


def pitched_notes(tune: Tune, arrangement: Arrangement, seconds: float, rng: np.random.Generator) -> list[NoteEvent]:
    """The tune's notes in a window of `seconds`, at the arrangement's tempo, key and loudness (accented downbeats)."""
    beat = 60.0 / arrangement.tempo
    onset, duration, pitch = _looped(tune, arrangement.start, seconds / beat)
    pitch = np.clip(pitch + arrangement.transpose, 21, 108)
    downbeat = np.isclose(np.mod(onset + arrangement.start, tune.beats_per_bar), 0)
    velocity = arrangement.velocity + 10 * downbeat + rng.integers(-8, 9, len(onset))
    legato = rng.uniform(0.8, 0.98)
    return [NoteEvent(float(o * beat), float(o * beat + max(d * beat * legato, 0.05)), int(p), int(np.clip(v, 1, 127)))
            for o, d, p, v in zip(onset, duration, pitch, velocity)]


def drum_notes(tune: Tune, tempo: float, seconds: float, rng: np.random.Generator) -> list[NoteEvent]:
    """A groove that fits the tune's metre, with toms following the tune's rhythm and a crash on the first beat."""
    top, bottom = (int(n) for n in tune.meter.split("/")) if re.fullmatch(r"\d+/\d+", tune.meter) else (4, 4)
    compound = bottom == 8 and top % 3 == 0
    names = (["compound"] if compound else ["waltz"] if top == 3
             else [name for name in GROOVES if name not in GROOVE_BAR])
    name = names[int(rng.integers(len(names)))]
    groove, bar = GROOVES[name], GROOVE_BAR.get(name, 4.0)
    step = 60.0 / tempo / 4  # a sixteenth note in seconds
    hits: list[tuple[float, int, int]] = [(0.0, CRASH, 110)]
    bar_seconds = bar * 60.0 / tempo
    for first in np.arange(0.0, seconds, bar_seconds):
        for drum, steps in groove.items():
            hits += [(first + s * step, drum, 100 if s % 4 == 0 else 80) for s in steps]
    onset, _, pitch = _looped(tune, 0.0, seconds * tempo / 60.0)
    toms = np.select([pitch < np.percentile(pitch, 33), pitch < np.percentile(pitch, 67)], [LOW_TOM, MID_TOM], HIGH_TOM)
    fills = rng.random(len(onset)) < 0.3
    hits += [(float(o) * 60.0 / tempo, int(t), 90) for o, t in zip(onset[fills], toms[fills])]
    jitter = rng.integers(-6, 7, len(hits))
    return [NoteEvent(t, t + 0.1, drum, int(np.clip(v + j, 1, 127)))
            for (t, drum, v), j in zip(sorted(hits), jitter) if t < seconds]
