"""`make_collection`: render a labelled music collection offline (music21 corpus × GM instruments × FluidSynth).

Layout of a collection folder:
    collection.json   the settings it was made with, and the songs that failed to load
    labels.parquet    one row per clip (see `LABELS`)
    clips/ID.wav      mono 16-bit PCM, one per row; ID is 'SONG-K': the song's number in the seed's song order,
                      and the clip's within the song

Sample rate 16 kHz: the rate torchcrepe was trained at, so one collection feeds both networks, and it keeps
what tells General MIDI instruments apart (fundamentals up to C8 = 4.2 kHz and the first harmonics above)
for 27 % fewer samples than 22.05 kHz.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile

from featurelens.audio.arrange import choose_arrangement, drum_notes, pitched_notes
from featurelens.audio.instruments import (
    DRUM_KITS,
    DRUMS,
    FAMILIES,
    NO_LABEL,
    PITCHED_FAMILIES,
    REGISTER_TARGETS,
    instrument_name,
    register_of,
)
from featurelens.audio.scores import COLLECTION_WEIGHTS, Tune, load_tune, song_index
from featurelens.audio.synth import Synthesizer
from featurelens.errors import FeaturelensError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
TABLE = "labels.parquet"
SETTINGS = "collection.json"
TARGET_RMS = 0.1  # -20 dBFS: loudness is normalised, as streaming services do, so it does not give the instrument away
LABELS = pa.schema([
    ("clip", pa.string()), ("path", pa.string()),  # 'SONG-K', and the WAV relative to the folder
    ("song", pa.string()), ("song_index", pa.int64()), ("collection", pa.string()), ("title", pa.string()),
    ("family", pa.string()), ("program", pa.int64()), ("instrument", pa.string()),  # GM program; a kit for drums
    ("register", pa.string()), ("median_pitch", pa.float64()),  # low/mid/high ('none' for drums), MIDI pitch
    ("tempo", pa.float64()), ("density", pa.float64()),  # quarter notes per minute; notes per second
    ("mode", pa.string()), ("meter", pa.string()),  # major/minor ('none' for drums); time signature
    ("seconds", pa.float64()), ("sample_rate", pa.int64()),
])
_FLUSH_EVERY = 200  # clips between table writes; a crash loses at most these rows (their WAVs are remade)

Progress = Callable[[int, int], None]  # progress(done, total) after each clip


@dataclass(frozen=True)
class CollectionSettings:
    """What makes a collection's clips: a collection folder only grows with the same settings."""

    seed: int = 0
    seconds: float = 3.0
    sample_rate: int = SAMPLE_RATE
    clips_per_song: int = 4


@dataclass
class Collection:
    """The result of `make_collection`: where the clips and labels are, and what this call did."""

    folder: Path
    table_path: Path
    clips: int  # clips in the collection now
    made: int  # rendered by this call
    reused: int  # already on disk, skipped
    failed_songs: int  # songs music21 could not read or export to notes (skipped)
    silent_clips: int  # renders with no sound (skipped)
    seconds: float  # wall time of this call
    settings: CollectionSettings = field(default_factory=CollectionSettings)

    @property
    def clips_per_second(self) -> float:
        return self.made / self.seconds if self.seconds else 0.0

    def labels(self) -> pa.Table:
        return read_labels(self.folder)


def read_labels(folder: Path | str) -> pa.Table:
    """The label table of a collection folder, rows in clip order."""
    path = Path(folder) / TABLE
    if not path.is_file():
        raise FeaturelensError(f"no {TABLE} in {folder}: make the collection first with "
                               f"make_collection({str(folder)!r})")
    table = pq.read_table(path)
    return table.take(np.argsort(np.array(table["clip"].to_pylist()), kind="stable"))


def read_clips(folder: Path | str, table: pa.Table | None = None) -> np.ndarray:
    """The clips of a collection (or of the rows of `table`) as float32 [N, samples]."""
    folder = Path(folder)
    table = read_labels(folder) if table is None else table
    return np.stack([soundfile.read(folder / path, dtype="float32")[0] for path in table["path"].to_pylist()])


def song_order(seed: int):
    """The songs of the corpus in the seed's order: collections drawn by `COLLECTION_WEIGHTS`, songs without repeats."""
    rng = np.random.default_rng(seed)
    names = list(COLLECTION_WEIGHTS)
    weights = np.array([COLLECTION_WEIGHTS[name] for name in names])
    orders = {name: rng.permutation(len(song_index(name))) for name in names}
    used = dict.fromkeys(names, 0)
    while any(used[name] < len(orders[name]) for name in names):
        name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        if used[name] == len(orders[name]):
            continue
        yield song_index(name)[orders[name][used[name]]]
        used[name] += 1


def _clip_row(tune: Tune, settings: CollectionSettings, synth: Synthesizer, rng: np.random.Generator,
              family: str) -> tuple[dict, np.ndarray]:
    """Render one clip of `tune` played by a random instrument of `family`; returns (labels, audio)."""
    if family == DRUMS:
        program = int(rng.choice(list(DRUM_KITS)))
        tempo = choose_arrangement(tune, None, rng).tempo
        notes = drum_notes(tune, tempo, settings.seconds, rng)
        register, median, mode = NO_LABEL, float("nan"), NO_LABEL
    else:
        program = int(rng.choice(list(PITCHED_FAMILIES[family])))
        arrangement = choose_arrangement(tune, str(rng.choice(list(REGISTER_TARGETS))), rng)
        notes = pitched_notes(tune, arrangement, settings.seconds, rng)
        tempo, mode = arrangement.tempo, tune.mode
        median = float(np.median([n.pitch for n in notes])) if notes else float("nan")
        register = register_of(median) if notes else NO_LABEL
    audio = synth.render(notes, program, settings.seconds, drums=family == DRUMS)
    labels = dict(family=family, program=program, instrument=instrument_name(family, program), register=register,
                  median_pitch=median, tempo=round(tempo, 2), density=len(notes) / settings.seconds, mode=mode)
    return labels, audio


def _normalised(audio: np.ndarray) -> np.ndarray | None:
    """`audio` at the target RMS with peaks below full scale, or None for a silent render."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms < 1e-5:
        return None
    audio = audio * (TARGET_RMS / rms)
    return audio / max(1.0, float(np.abs(audio).max()) / 0.99)


def check_settings(folder: Path, settings: CollectionSettings) -> dict:
    """The folder's state (settings, failed songs, silent clips); an error when its clips were made otherwise."""
    path = folder / SETTINGS
    if not path.is_file():
        return {"settings": asdict(settings), "failed_songs": [], "silent_clips": []}
    state = json.loads(path.read_text())
    if state["settings"] != asdict(settings):
        raise FeaturelensError(f"{folder} holds a collection made with {state['settings']}, not {asdict(settings)}: "
                               "use another folder or the same settings")
    return state


def _write_state(folder: Path, rows: list[dict], state: dict) -> None:
    """Write the label table and the settings file, each atomically (a crash leaves the previous version)."""
    table = pa.Table.from_pylist(rows, schema=LABELS)
    pq.write_table(table, folder / (TABLE + ".tmp"))
    os.replace(folder / (TABLE + ".tmp"), folder / TABLE)
    (folder / (SETTINGS + ".tmp")).write_text(json.dumps(state, indent=1))
    os.replace(folder / (SETTINGS + ".tmp"), folder / SETTINGS)


def make_collection(out_dir: Path | str, clips: int = 2000, seconds: float = 3.0, seed: int = 0,
                    clips_per_song: int = 4, sample_rate: int = SAMPLE_RATE,
                    progress: Progress | None = None) -> Collection:
    """Make (or finish) a collection of `clips` labelled clips of `seconds` in `out_dir`.

    Songs come from the music21 corpus in the seed's order; each gives `clips_per_song` clips, each played by
    a different instrument family (drums included) in a random register, tempo, key and excerpt. Everything
    follows from `seed`: the same arguments give the same clips, byte for byte. Clips already in the folder
    are kept (a rerun after Ctrl-C or a crash carries on), and asking for more clips later extends the same
    song order. Songs that music21 cannot read are skipped and counted.
    """
    if clips_per_song > len(FAMILIES):
        raise FeaturelensError(f"clips_per_song={clips_per_song} exceeds the {len(FAMILIES)} instrument families: "
                               f"use at most {len(FAMILIES)}")
    started = time.perf_counter()
    folder = Path(out_dir)
    (folder / "clips").mkdir(parents=True, exist_ok=True)
    settings = CollectionSettings(seed, float(seconds), sample_rate, clips_per_song)
    state = check_settings(folder, settings)
    rows = read_labels(folder).to_pylist() if (folder / TABLE).is_file() else []
    have = {row["clip"] for row in rows}
    failed, silent = set(state["failed_songs"]), set(state["silent_clips"])
    reused, made = len(rows), 0
    if progress is not None:
        progress(min(len(rows), clips), clips)
    synth = None
    try:
        for index, ref in enumerate(song_order(seed)):
            if len(rows) >= clips:
                break
            if index in failed:
                continue
            wanted = [f"{index:05d}-{k}" for k in range(clips_per_song)]
            missing = [k for k, clip in enumerate(wanted) if clip not in have and clip not in silent]
            if not missing:
                continue
            try:
                tune = load_tune(ref)
            except Exception as error:  # music21 raises many kinds for a tune it cannot export
                log.debug("skipping %s: %s", ref.song_id, error)
                failed.add(index)
                state["failed_songs"] = sorted(failed)
                continue
            synth = synth or Synthesizer(sample_rate)
            families = np.random.default_rng([seed, index]).permutation(len(FAMILIES))[:clips_per_song]
            for k in missing:
                if len(rows) >= clips:
                    break
                rng = np.random.default_rng([seed, index, k])
                labels, audio = _clip_row(tune, settings, synth, rng, FAMILIES[families[k]])
                audio = _normalised(audio)
                if audio is None:
                    silent.add(wanted[k])
                    state["silent_clips"] = sorted(silent)
                    continue
                path = f"clips/{wanted[k]}.wav"
                soundfile.write(folder / (path + ".tmp"), audio, sample_rate, subtype="PCM_16", format="WAV")
                os.replace(folder / (path + ".tmp"), folder / path)
                rows.append(dict(clip=wanted[k], path=path, song=ref.song_id, song_index=index,
                                 collection=ref.collection, title=tune.title, meter=tune.meter,
                                 seconds=settings.seconds, sample_rate=sample_rate, **labels))
                have.add(wanted[k])
                made += 1
                if made % _FLUSH_EVERY == 0:
                    _write_state(folder, rows, state)
                if progress is not None:
                    progress(len(rows), clips)
    finally:
        if synth is not None:
            synth.close()
        _write_state(folder, rows, state)
    if failed:
        log.info("%d songs could not be read by music21 and were skipped", len(failed))
    return Collection(folder, folder / TABLE, len(rows), made, reused, len(failed), len(silent),
                      time.perf_counter() - started, settings)
