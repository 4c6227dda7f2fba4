"""A user's own audio folder as network input: every file accounted for, mono at the network's sample rate.

Each awkward case is handled one clear way and reported in `AudioFolder.report`:
  unreadable file       skipped, listed with the reader's reason
  another sample rate   resampled (polyphase, scipy), said once per rate
  stereo / multichannel mixed to mono (channel mean)
  silence               kept (its log-mel is the floor everywhere), listed
  shorter than the network's receptive field   zero-padded at the end (or skipped with short="skip"), listed
  longer than an hour, or at an absurd rate     skipped before it is decoded, listed with the unreadable files
Items are named by their path relative to the folder without extension, as in a play-count table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from featurelens.errors import FeaturelensError, error_reason

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


def default_collection() -> Path:
    """Where `featurelens music make` puts the built-in collection unless told otherwise (read at call time: $HOME)."""
    return Path.home() / ".cache" / "featurelens" / "music-collection"
SILENCE_RMS = 1e-4  # -80 dBFS
MAX_FILE_SECONDS = 3600.0  # a data file may last an hour (a long mix); a longer one is skipped, never decoded
FILE_RATES = (1000, 384_000)  # sample rates (Hz) a data file may have; a header outside says something broken or hostile
_BLOCK_SAMPLES = 1 << 20  # samples (frames × channels) decoded at a time: channels are mixed to mono block by block


@dataclass
class AudioClip:
    """One file's audio: mono float32 at the folder's sample rate."""

    item: str  # path relative to the folder, without extension
    path: Path
    audio: np.ndarray
    source_rate: int
    source_channels: int
    padded: bool = False


@dataclass
class LoadReport:
    """What happened to each awkward file; `lines()` says it in plain words."""

    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    resampled: dict[int, int] = field(default_factory=dict)  # source rate → files
    mixed_to_mono: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    padded: list[str] = field(default_factory=list)
    skipped_short: list[str] = field(default_factory=list)

    def add(self, other: "LoadReport") -> "LoadReport":
        """This report with `other`'s files added (in that order); returns self."""
        self.unreadable += other.unreadable
        for rate, count in other.resampled.items():
            self.resampled[rate] = self.resampled.get(rate, 0) + count
        self.mixed_to_mono += other.mixed_to_mono
        self.silent += other.silent
        self.padded += other.padded
        self.skipped_short += other.skipped_short
        return self

    def is_empty(self) -> bool:
        return not (self.unreadable or self.resampled or self.mixed_to_mono or self.silent or self.padded or self.skipped_short)

    def to_dict(self) -> dict:
        """Plain lists and dicts (a checkpoint stores it)."""
        return {"unreadable": [list(pair) for pair in self.unreadable], "resampled": dict(self.resampled),
                "mixed_to_mono": list(self.mixed_to_mono), "silent": list(self.silent), "padded": list(self.padded),
                "skipped_short": list(self.skipped_short)}

    @classmethod
    def from_dict(cls, data: dict) -> "LoadReport":
        return cls([(str(path), str(why)) for path, why in data["unreadable"]], {int(r): int(n) for r, n in data["resampled"].items()},
                   list(data["mixed_to_mono"]), list(data["silent"]), list(data["padded"]), list(data["skipped_short"]))

    def lines(self, sample_rate: int, min_samples: int) -> list[str]:
        said = []
        if self.unreadable:
            said.append(f"{len(self.unreadable)} unreadable file(s) skipped, e.g. {self.unreadable[0][0]}: "
                        f"{self.unreadable[0][1]}")
        for rate, count in sorted(self.resampled.items()):
            said.append(f"{count} file(s) at {rate} Hz resampled to {sample_rate} Hz")
        if self.mixed_to_mono:
            said.append(f"{len(self.mixed_to_mono)} multichannel file(s) mixed to mono")
        if self.silent:
            said.append(f"{len(self.silent)} silent file(s) kept (below -80 dBFS), e.g. {self.silent[0]}")
        seconds = min_samples / sample_rate
        if self.padded:
            said.append(f"{len(self.padded)} file(s) shorter than the network's {seconds:.2f} s receptive field "
                        "zero-padded at the end")
        if self.skipped_short:
            said.append(f"{len(self.skipped_short)} file(s) shorter than the network's {seconds:.2f} s receptive "
                        "field skipped")
        return said


@dataclass
class AudioFolder:
    """The readable clips of a folder, in sorted path order, and the report of everything else."""

    folder: Path
    sample_rate: int
    clips: list[AudioClip]
    report: LoadReport
    files: int  # audio files found

    @property
    def items(self) -> list[str]:
        return [clip.item for clip in self.clips]

    def batch(self, samples: int | None = None) -> np.ndarray:
        """The clips as one float32 array [N, samples]: cut to `samples` (default: the shortest clip's), zero-padded."""
        samples = samples or min(len(clip.audio) for clip in self.clips)
        out = np.zeros((len(self.clips), samples), np.float32)
        for row, clip in zip(out, self.clips):
            row[: min(samples, len(clip.audio))] = clip.audio[:samples]
        return out


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased) of mono float audio from `source_rate` to `target_rate`."""
    if source_rate == target_rate:
        return audio
    from scipy.signal import resample_poly

    common = math.gcd(source_rate, target_rate)
    return resample_poly(audio, target_rate // common, source_rate // common).astype(np.float32)


def read_audio(file: Path | str | BinaryIO, max_seconds: float | None = None, *, longest: float = MAX_FILE_SECONDS,
               rates: tuple[int, int] = FILE_RATES, what: str = "the file",
               fix: str = "cut it into shorter files") -> tuple[np.ndarray, int, int]:
    """(float32 mono [frames], sample rate, channels) of one file (a path or a file object) via libsndfile (wav,
    flac, ogg, mp3, aiff); `max_seconds` reads only its start.

    The header is checked before any sample is decoded, since a small compressed file can hold hours: a rate
    outside `rates`, or more than `longest` seconds to read, is a one-line `FeaturelensError` naming `what` and
    the `fix`. Channels are mixed block by block, so memory holds the mono sound only.
    """
    import soundfile

    with soundfile.SoundFile(str(file) if isinstance(file, (str, Path)) else file) as handle:
        rate, channels = handle.samplerate, handle.channels
        if not rates[0] <= rate <= rates[1]:
            raise FeaturelensError(f"{what} has a sample rate of {rate} Hz, outside the {rates[0]}–{rates[1]} Hz allowed: "
                                   "resample it")
        wanted = handle.frames if max_seconds is None else min(handle.frames, int(max_seconds * rate))
        if wanted > longest * rate:
            raise FeaturelensError(f"{what} lasts {_duration(handle.frames / rate)}, more than the {_duration(longest)} "
                                   f"allowed: {fix}")
        pcm16 = handle.subtype == "PCM_16"  # libsndfile's own scaling (1/32768), done in NumPy: twice as fast
        mono = np.empty(wanted, np.float32)  # pages untouched stay unallocated, should the header promise more than is there
        step, done = max(1, _BLOCK_SAMPLES // channels), 0
        while done < wanted:
            asked = min(step, wanted - done)
            block = handle.read(frames=asked, dtype="int16" if pcm16 else "float32", always_2d=True)
            if pcm16:
                block = block * np.float32(1 / 32768)
            mono[done : done + len(block)] = block[:, 0] if channels == 1 else block.mean(axis=1)
            done += len(block)
            if len(block) < asked:
                break  # the file ended before its header said
        return (mono if done == wanted else mono[:done].copy()), rate, channels


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:.3g} s"


def audio_files(folder: Path | str) -> list[Path]:
    """The audio files under `folder` (recursively), sorted by path; one-line errors for a missing or empty folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FeaturelensError(f"audio folder {folder} not found: give a folder of .wav/.flac/.ogg/.mp3 files")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not paths:
        raise FeaturelensError(f"no audio files in {folder}: it needs {', '.join(AUDIO_SUFFIXES)} files")
    return paths


def load_clip(path: Path, name: str, sample_rate: int, report: LoadReport, min_samples: int = 0, short: str = "pad",
              max_seconds: float | None = None) -> AudioClip | None:
    """One file, mono at `sample_rate`, padded to `min_samples` (see `load_audio_folder`); None when it is skipped.

    What happened is added to `report` under `name` (the path relative to its folder).
    """
    try:
        audio, rate, channels = read_audio(path, max_seconds)
    except Exception as error:  # libsndfile's errors for broken or unsupported files, and files beyond the limits
        report.unreadable.append((name, error_reason(error, path)))  # in words, without where the file lies
        return None
    if len(audio) == 0:
        report.unreadable.append((name, "no audio frames"))
        return None
    if channels > 1:
        report.mixed_to_mono.append(name)
    if rate != sample_rate:
        report.resampled[rate] = report.resampled.get(rate, 0) + 1
        audio = resample(audio, rate, sample_rate)
    if math.sqrt(float(np.square(audio).mean())) < SILENCE_RMS:  # no BLAS call: its threads would spin beside torch
        report.silent.append(name)
    padded = len(audio) < min_samples
    if padded and short == "skip":
        report.skipped_short.append(name)
        return None
    if padded:
        report.padded.append(name)
        audio = np.pad(audio, (0, min_samples - len(audio)))
    return AudioClip(Path(name).with_suffix("").as_posix(), path, np.ascontiguousarray(audio, dtype=np.float32), rate,
                     channels, padded)


def load_audio_folder(folder: Path | str, sample_rate: int = 16000, min_samples: int = 0, short: str = "pad",
                      max_seconds: float | None = None) -> AudioFolder:
    """Every audio file under `folder` (recursively), mono at `sample_rate`, at least `min_samples` long.

    `short` is "pad" (zero-pad at the end) or "skip" for files shorter than `min_samples` (e.g. a model's
    `min_samples`); `max_seconds` reads only the start of long files. Nothing is dropped silently: see
    `AudioFolder.report`.
    """
    if short not in ("pad", "skip"):
        raise FeaturelensError(f"short={short!r} is not an option: use 'pad' or 'skip'")
    folder = Path(folder)
    paths = audio_files(folder)
    report = LoadReport()
    loaded = (load_clip(path, path.relative_to(folder).as_posix(), sample_rate, report, min_samples, short, max_seconds)
              for path in paths)
    clips = [clip for clip in loaded if clip is not None]
    return AudioFolder(folder, sample_rate, clips, report, len(paths))
