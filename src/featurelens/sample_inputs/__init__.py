"""`samples(folder)`: sample inputs as files with stable names, the ones the README's snippets use.

    folder/cat.jpg, coffee.jpg, astronaut.jpg, motorcycle.jpg   bundled photos (JPEG, quality 95)
    folder/photos/NAME.jpg                                      every bundled photo (`--data folder/photos`)
    folder/shirt.png, trouser.png, … (one per class)            the first Fashion-MNIST test item of each class (28×28 grey)
    folder/fashion/INDEX-CLASS.png                              the first 2 test items of each class: 20 items
    folder/songs/INSTRUMENT.wav                                 4 music clips × 3 s from the collection maker (16 kHz mono)
    folder/checkpoints/stepNNNN.pt, first.pt, last.pt           fashion-cnn's shipped training checkpoints

Everything is read from what ships or installs offline and written the same way every time: a rerun gives
the same bytes (the clips too: `make_collection` is deterministic). Songs need FluidSynth and its
soundfont; without them that part is skipped with a note, never failing the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from featurelens.errors import FeaturelensError, bad_parameter
from featurelens.progress import ProgressArg, reporting

PARTS = ("photos", "fashion", "songs", "checkpoints")
TOP_PHOTOS = ("cat", "coffee", "astronaut", "motorcycle")
FASHION_PER_CLASS = 2
SONG_CLIPS, SONG_SECONDS, SONG_SEED = 4, 3.0, 11
AUDIO_HINT = "apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm and pip install 'featurelens[audio]'"


@dataclass
class Samples:
    """What `samples` wrote: the files of each part, the parts skipped with the reason, and how many files it replaced."""

    folder: Path
    parts: dict[str, list[Path]] = field(default_factory=dict)  # part → its files, in the order written
    skipped: dict[str, str] = field(default_factory=dict)
    replaced: int = 0
    seconds: float = 0.0

    @property
    def files(self) -> list[Path]:
        """Every file written, sorted."""
        return sorted(path for paths in self.parts.values() for path in paths)

    def summary(self) -> dict:
        return {"folder": str(self.folder), "files": len(self.files), "parts": {part: len(paths) for part, paths in self.parts.items() if paths},
                "skipped": dict(self.skipped), "replaced": self.replaced, "seconds": round(self.seconds, 1)}


@dataclass
class SamplesPlan:
    """A checked samples job: which parts go into which folder."""

    folder: Path
    parts: tuple[str, ...]

    def describe(self) -> str:
        what = {"photos": f"{len(_photo_names())} photos (JPEG)", "fashion": f"{10 * FASHION_PER_CLASS} Fashion-MNIST items (PNG)",
                "songs": f"{SONG_CLIPS} music clips of {SONG_SECONDS:g} s (WAV)", "checkpoints": "fashion-cnn's training checkpoints"}
        return f"write sample inputs into {self.folder}: " + ", ".join(what[part] for part in self.parts)

    def run(self, progress: ProgressArg = None) -> Samples:
        started = time.perf_counter()
        result = Samples(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        with reporting(progress, "samples", rate_unit="parts") as report:
            report.update(0, len(self.parts))
            for done, part in enumerate(self.parts, 1):
                reason = _WRITERS[part](_Writer(self.folder, result, result.parts.setdefault(part, [])))
                if reason:
                    result.skipped[part] = reason
                report.update(done, len(self.parts))
        result.seconds = time.perf_counter() - started
        return result


def plan_samples(folder: Path | str, only: Iterable[str] | str | None = None) -> SamplesPlan:
    """Check the parts (`only`: names from PARTS, a list or one comma-separated string) and that `folder` can be written."""
    if isinstance(only, str):
        only = [name.strip() for name in only.split(",") if name.strip()]
    parts = tuple(PARTS) if only is None else tuple(dict.fromkeys(only))
    unknown = [name for name in parts if name not in PARTS]
    if unknown or not parts:
        raise bad_parameter("only", f"takes {', '.join(PARTS)} (comma-separated), got {','.join(unknown) or 'nothing'}")
    folder = Path(folder).expanduser()
    _check_writable(folder)
    return SamplesPlan(folder, tuple(name for name in PARTS if name in parts))


def samples(folder: Path | str, only: Iterable[str] | str | None = None, progress: ProgressArg = None) -> Samples:
    """Write the sample inputs into `folder` (made if missing; files already there are replaced) and return what was written."""
    return plan_samples(folder, only).run(progress)


def _check_writable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise FeaturelensError(f"cannot write samples into {str(folder)!r}: it is a file, not a folder")
    current = folder.absolute()
    while not current.exists():
        current = current.parent
    if not current.is_dir():
        raise FeaturelensError(f"cannot write samples into {str(folder)!r}: {str(current)!r} is a file, not a folder")
    if not os.access(current, os.W_OK):
        raise FeaturelensError(f"cannot write samples into {str(folder)!r}: no permission to write in {str(current)!r}")


class _Writer:
    """Writes one part's files, each atomically (a temporary file, then a rename), and records them in the result."""

    def __init__(self, folder: Path, result: Samples, written: list[Path]):
        self.folder, self.result, self.written = folder, result, written

    def write(self, relative: str, save: Callable[[Path], None]) -> Path:
        target = self.folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        save(temporary)
        if target.exists():
            self.result.replaced += 1
        os.replace(temporary, target)
        self.written.append(target)
        return target

    def copy(self, relative: str, source: Path) -> Path:
        return self.write(relative, lambda path: shutil.copyfile(source, path))


def _photo_names() -> tuple[str, ...]:
    from featurelens.photos import PHOTO_NAMES

    return PHOTO_NAMES


def _write_photos(writer: _Writer) -> None:
    from featurelens.photos import bundled_photos

    photos = dict(zip(_photo_names(), bundled_photos(), strict=True))
    for name, photo in photos.items():
        writer.write(f"photos/{name}.jpg", lambda path, photo=photo: photo.save(path, format="JPEG", quality=95))
    for name in TOP_PHOTOS:
        writer.copy(f"{name}.jpg", writer.folder / "photos" / f"{name}.jpg")


def class_slug(name: str) -> str:
    """'T-shirt/top' → 't-shirt', 'Ankle boot' → 'ankle-boot': a class name as a file name."""
    return re.sub(r"[^a-z0-9]+", "-", name.split("/")[0].lower()).strip("-")


def _write_fashion(writer: _Writer) -> None:
    from PIL import Image

    from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist

    images, labels = load_fashion_mnist("test")
    for label, name in enumerate(FASHION_CLASSES):
        indices = (labels == label).nonzero().flatten()[:FASHION_PER_CLASS].tolist()
        for rank, index in enumerate(indices):
            item = Image.fromarray(images[index].numpy(), mode="L")
            written = writer.write(f"fashion/{index:04d}-{class_slug(name)}.png", lambda path, item=item: item.save(path, format="PNG"))
            if rank == 0:
                writer.copy(f"{class_slug(name)}.png", written)


def _write_songs(writer: _Writer) -> str | None:
    """The clips, or the reason they were skipped (FluidSynth, its soundfont or the audio extra missing)."""
    try:  # the audio extra: music21, soundfile, and pyfluidsynth, whose import loads libfluidsynth
        import fluidsynth  # noqa: F401

        from featurelens.audio.collection import make_collection, read_labels
        from featurelens.audio.synth import SOUNDFONT
    except (ImportError, OSError) as error:
        return f"cannot load FluidSynth or music21 ({error}): {AUDIO_HINT}"
    if not SOUNDFONT.is_file():
        return f"the General MIDI soundfont {SOUNDFONT} is missing: {AUDIO_HINT}"
    with tempfile.TemporaryDirectory(prefix="featurelens-samples-") as scratch:
        collection = make_collection(scratch, clips=SONG_CLIPS, seconds=SONG_SECONDS, seed=SONG_SEED)
        for row in read_labels(collection.folder).to_pylist():
            name = class_slug(row["instrument"]) or row["clip"]
            writer.copy(f"songs/{name}.wav", collection.folder / row["path"])
    return None


def _write_checkpoints(writer: _Writer) -> None:
    from featurelens.models.fashion_cnn import shipped_training_checkpoints

    shipped = shipped_training_checkpoints()
    for source in shipped:
        writer.copy(f"checkpoints/{source.name}", source)
    writer.copy("first.pt", shipped[0])
    writer.copy("last.pt", shipped[-1])


_WRITERS: dict[str, Callable[[_Writer], str | None]] = {
    "photos": _write_photos, "fashion": _write_fashion, "songs": _write_songs, "checkpoints": _write_checkpoints,
}
