"""Where the clips of every audio technique come from (examples, the atlas, the server): a folder of audio files, or a
music collection (its clips and labels).

Entries are the folder's audio files sorted by relative path; entry `i` is named by its path without the
extension (a collection's `clips/SONG-K`). Each file is read as `featurelens.audio.sources.load_clip` reads it:
mono at the model's sample rate, zero-padded up to the model's receptive field, and every awkward file
(unreadable, resampled, multichannel, silent, short) counted in `report`. Clips are batched only with
clips of the same length, so a batch computes exactly what each clip alone would.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection, Container, Iterable, Iterator

import numpy as np
import torch

from featurelens.audio.sources import AudioClip, LoadReport, audio_files, default_collection, load_clip
from featurelens.errors import FeaturelensError

MUSIC = "music"  # the built-in collection, made by `featurelens music make`
_PENDING_BATCHES = 4  # clips held back waiting for others of their length: at most this many batches' worth


@dataclass
class ClipBatch:
    """Clips of one length: `waveforms` [B, samples], `indices` [B] their entries; `end`: entries read so far;
    `failed`: the entries read since the batch before that gave no clip."""

    waveforms: torch.Tensor
    indices: torch.Tensor
    end: int
    failed: list[int] = field(default_factory=list)


class AudioSource:
    """The audio files of `folder` as entries, read at `sample_rate` and at least `min_samples` long."""

    random_access = True  # any entry can be read again (`clip`)

    def __init__(self, folder: Path | str, sample_rate: int, min_samples: int, name: str | None = None) -> None:
        self.folder = Path(folder)
        self.paths = audio_files(self.folder)
        self.sample_rate, self.min_samples = sample_rate, min_samples
        self.name = name or str(folder)
        self.samples: dict[int, int] = {}  # entry → samples as the model heard it, for every clip read
        self.labels = _collection_labels(self.folder)
        self._reports: dict[int, LoadReport] = {}  # entry → what was awkward about its file (awkward files only)
        self._failed: set[int] = set()  # entries read that gave no clip (unreadable, or short and skipped)
        self._restored = LoadReport()  # the files of the entries a checkpoint had done
        self._lock = threading.Lock()  # files are read, and reported, in a thread

    @property
    def report(self) -> LoadReport:
        """What was awkward about the files read so far (a checkpoint's first), in entry order."""
        return self.report_of(None)

    def report_of(self, entries: Container[int] | None) -> LoadReport:
        """The report of `entries` only (None: of every file read), after the restored one."""
        with self._lock:
            chosen = sorted(i for i in self._reports if entries is None or i in entries)
            merged = LoadReport().add(self._restored)
            for index in chosen:
                merged.add(self._reports[index])
        return merged

    def failed(self) -> set[int]:
        """Entries read so far that gave no clip."""
        with self._lock:
            return set(self._failed)

    def unreadable(self, entries: Iterable[int]) -> list[tuple[str, str]]:
        """(file, why) of each of `entries` that could not be read, in entry order."""
        with self._lock:
            return [pair for index in sorted(entries) if index in self._reports for pair in self._reports[index].unreadable]

    def samples_of(self, entries: Container[int]) -> dict[int, int]:
        """The lengths of the clips of `entries` (those read so far)."""
        with self._lock:
            return {index: samples for index, samples in self.samples.items() if index in entries}

    def restore(self, report: LoadReport, samples: dict[int, int]) -> None:
        """Continue where a checkpoint left off: its files' report and its clips' lengths."""
        self._restored = report
        self.samples.update(samples)

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, index: int) -> str:
        """Entry `index`'s path in the folder (how reports name files)."""
        return self.paths[index].relative_to(self.folder).as_posix()

    def item(self, index: int) -> str:
        """What a person calls entry `index`: its path in the folder without the extension."""
        return Path(self.file(index)).with_suffix("").as_posix()

    def label(self, index: int) -> str:
        """A collection clip's family and instrument ("" outside a collection)."""
        return self.labels.get(self.item(index), "")

    def clip(self, index: int) -> np.ndarray:
        """Entry `index` exactly as the pass heard it: float32 [samples]."""
        clip = load_clip(self.paths[index], self.file(index), self.sample_rate, LoadReport(), self.min_samples)
        if clip is None:
            raise FeaturelensError(f"{self.paths[index]} can no longer be read")
        return clip.audio

    def batches(self, batch_size: int, stop: int | None = None, skip: Collection[int] = ()) -> Iterator[ClipBatch]:
        """Entries 0 … stop-1 but those in `skip`, in batches of at most `batch_size` clips of equal length;
        unreadable files are skipped, each named by the next batch (`failed`; a batch of no clips at the end)."""
        pending: dict[int, list[tuple[int, np.ndarray]]] = {}
        failed: list[int] = []
        stop = len(self) if stop is None else min(stop, len(self))
        for index, clip in self._read_ahead([index for index in range(stop) if index not in skip], batch_size):
            if clip is None:
                failed.append(index)
                continue
            group = pending.setdefault(len(clip.audio), [])
            group.append((index, clip.audio))
            if len(group) == batch_size:
                yield _batch(pending.pop(len(clip.audio)), index + 1, failed)
                failed = []
            elif sum(map(len, pending.values())) > _PENDING_BATCHES * batch_size:
                yield _batch(pending.pop(max(pending, key=lambda length: len(pending[length]))), index + 1, failed)
                failed = []
        for length in sorted(pending, key=lambda length: pending[length][0][0]):
            yield _batch(pending[length], stop, failed)
            failed = []
        if failed:
            yield _batch([], stop, failed)

    def _read_ahead(self, entries: list[int], ahead: int) -> Iterator[tuple[int, AudioClip | None]]:
        """(entry, clip or None) for `entries` in order, read up to `ahead` entries early by one thread:
        file reading overlaps the network's work on the batch before (both release the GIL)."""
        def read(index: int) -> AudioClip | None:
            report = LoadReport()
            clip = load_clip(self.paths[index], self.file(index), self.sample_rate, report, self.min_samples)
            with self._lock:
                if not report.is_empty():
                    self._reports[index] = report
                if clip is None:
                    self._failed.add(index)
                else:
                    self.samples[index] = len(clip.audio)
            return clip

        with ThreadPoolExecutor(1) as reader:  # one thread: files are read, and reported, in entry order
            queued: deque = deque()
            for index in entries:
                queued.append((index, reader.submit(read, index)))
                if len(queued) > ahead:
                    done, future = queued.popleft()
                    yield done, future.result()
            while queued:
                done, future = queued.popleft()
                yield done, future.result()

    def fingerprint(self) -> str:
        return f"{self.folder.resolve()}:{len(self)}"

    def close(self) -> None:
        """Nothing held open: each batch's reading thread ends with it."""


def audio_data_spec(data: str | Path) -> str:
    """An audio model's data source as stored and passed on: "music" (checked to be made; also what the image
    default "photos" means for an audio model), or a folder's absolute path (checked to hold audio files)."""
    if str(data).strip() in (MUSIC, "photos"):
        _music_folder(parameter="data")
        return MUSIC
    folder = Path(data).expanduser()
    audio_files(folder)
    return str(folder.resolve())


def _music_folder(parameter: str | None = None) -> Path:
    """The built-in collection's folder, or a one-line error saying how to make it."""
    folder = default_collection()
    if not folder.is_dir():
        raise FeaturelensError(f"the built-in music collection is not made yet ({folder}): run `featurelens music make`, "
                               "or give a folder of audio files", parameter=parameter)
    return folder


def _batch(clips: list[tuple[int, np.ndarray]], end: int, failed: list[int]) -> ClipBatch:
    waveforms = torch.from_numpy(np.stack([audio for _, audio in clips])) if clips else torch.empty(0, 0)
    return ClipBatch(waveforms, torch.tensor([i for i, _ in clips], dtype=torch.int64), end, failed)


def _collection_labels(folder: Path) -> dict[str, str]:
    """{item: "family · instrument"} for a collection folder (labels.parquet beside clips/), else {}."""
    from featurelens.audio.collection import TABLE, read_labels

    if not (folder / TABLE).is_file():
        return {}
    table = read_labels(folder).to_pydict()
    return {Path(path).with_suffix("").as_posix(): f"{family} · {instrument}"
            for path, family, instrument in zip(table["path"], table["family"], table["instrument"])}


def open_audio_source(data: Any, sample_rate: int, min_samples: int) -> AudioSource:
    """`data` as an audio source: "music" (the built-in collection) or a folder of .wav/.flac/.ogg/.mp3 files."""
    if isinstance(data, AudioSource):
        return data
    if isinstance(data, str) and data.strip() == MUSIC:
        return AudioSource(_music_folder(), sample_rate, min_samples, name=MUSIC)
    if isinstance(data, (str, Path)):
        return AudioSource(Path(data).expanduser(), sample_rate, min_samples)
    raise FeaturelensError(f"an audio model's examples come from a folder of audio files or {MUSIC!r}, not a "
                           f"{type(data).__name__}", parameter="data")
