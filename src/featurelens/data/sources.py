"""Where the inputs of every technique come from (examples, a render's data, the inverter, the server): a folder of
image files, a built-in dataset, or any Python iterable.

Every source is a sequence of *entries* in a fixed order (files sorted by relative path, dataset
order, iteration order). Entry `i` is identified by its index `i` (used for ranking ties and for
resuming) and by a key shown to people (the path relative to the folder, or the index). Images
come out as the model will see them: [B, C, S, S] floats in [0, 1], C the model's channels
(greyscale and colour converted), centre-cropped to a square and resized to S.
"""

from __future__ import annotations

import hashlib
import io
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from featurelens.errors import FeaturelensError, error_reason
from featurelens.images import MAX_FILE_PIXELS, WEB_FORMATS, convert_channels, decoded_image, pil_to_tensor, resize_square
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.photos import bundled_photos

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
BUILTIN_SOURCES = ("fashion-mnist:train", "fashion-mnist:test", "photos")


@dataclass(frozen=True)
class Skipped:
    """An entry that could not be read, and why (first line of the error)."""

    item: str
    reason: str


@dataclass
class SourceBatch:
    """Images of consecutive entries: `images` [B, C, S, S] in [0, 1], `indices` [B] their entry indices."""

    images: torch.Tensor
    indices: torch.Tensor
    end: int  # entries consumed once this batch is done: where a resumed run starts
    skipped: list[Skipped] = field(default_factory=list)


class ImageSource(ABC):
    """An ordered collection of input images."""

    name: str = "images"
    random_access: bool = True  # whether `image(i)` can load any entry again after the pass

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        """Batches of entries start … stop-1 (stop None: to the end), at most `batch_size` images each."""

    @abstractmethod
    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        """Entry `index` as [C, S, S] in [0, 1], exactly as the pass saw it."""

    def key(self, index: int) -> str | int:
        """What a person calls entry `index`: a relative path for folders, else the index."""
        return index

    def fingerprint(self) -> str | None:
        """A string that changes when the entries change (None: unknown, cannot be resumed safely)."""
        return None

    def close(self) -> None:
        """Release what the source holds open."""


# --- image conversion ----------------------------------------------------------------------------------


def to_model_image(image: Image.Image, channels: int, size: int) -> torch.Tensor:
    """A PIL image as the model sees it: [C, S, S] floats in [0, 1], centre square resized to S."""
    return pil_to_tensor(image, channels, size)


def tensor_to_model_image(value: Any, channels: int, size: int) -> torch.Tensor:
    """A dataset item — tensor, array or PIL image in any common layout, or an (image, label) pair — as [C, S, S] in [0, 1].

    uint8 images go through PIL, exactly like image files; float ones are taken as [0, 1] and their
    channels converted like PIL's (luma for grey).
    """
    if isinstance(value, (tuple, list)) and value:  # (image, label) pairs from datasets
        value = value[0]
    if isinstance(value, Image.Image):
        return to_model_image(value, channels, size)
    tensor = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value).detach().cpu()
    if tensor.dim() == 2:
        tensor = tensor[None]
    if tensor.dim() != 3:
        raise FeaturelensError(f"an input has shape {tuple(tensor.shape)}: give [C, H, W] or [H, W] tensors, arrays or PIL images")
    if tensor.shape[0] not in (1, 3, 4) and tensor.shape[-1] in (1, 3, 4):
        tensor = tensor.permute(2, 0, 1)  # H, W, C arrays (numpy/PIL layout)
    if tensor.dtype == torch.uint8:
        array = tensor.permute(1, 2, 0).numpy()
        return to_model_image(Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array), channels, size)
    return resize_square(convert_channels(tensor.float()[None, :3], channels), size)[0]


# --- folders -------------------------------------------------------------------------------------------


def load_image_file(file: Path | BinaryIO, key: str, channels: int, size: int) -> torch.Tensor | Skipped:
    """An image file (a path, or its bytes as a file object) as the model sees it, or why it cannot be read.

    The reason never names where the file was opened from, so it reads the same for a path and for
    bytes shipped from another machine. A file of more than `MAX_FILE_PIXELS` (as decoded: JPEGs decode at
    a reduced scale) is skipped before it is decoded; only the decoders of `WEB_FORMATS` are tried (a PNG named
    .jpg reads, a PostScript file named .png does not reach Ghostscript).
    """
    draft = ("L" if channels == 1 else "RGB", (size, size))  # a JPEG decodes at reduced scale: faster
    try:
        with decoded_image(file, "the file", MAX_FILE_PIXELS, "make it smaller", WEB_FORMATS, draft) as image:
            return to_model_image(image, channels, size)
    except FeaturelensError as err:
        return Skipped(key, str(err))
    except Exception as err:  # a corrupt file must not end a long run: report it and go on
        return Skipped(key, skip_reason(err, file))


def skip_reason(err: BaseException, file: Path | BinaryIO) -> str:
    """First line of the error, without the path or file object it names."""
    reason = error_reason(err, file)
    return reason if reason == type(err).__name__ else f"{type(err).__name__}: {reason}"


class FileSource(ImageSource):
    """Image files in a fixed order, decoded in threads while the model works on the previous batch."""

    keys: list[str]

    def __init__(self, keys: list[str], workers: int | None = None):
        self.keys = keys
        self.workers = workers or max(1, min(8, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def key(self, index: int) -> str:
        return self.keys[index]

    @abstractmethod
    def _load(self, index: int, channels: int, size: int) -> torch.Tensor | Skipped: ...

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        loaded = self._load(index, channels, size)
        if isinstance(loaded, Skipped):
            raise FeaturelensError(f"{loaded.item} could not be read again: {loaded.reason}")
        return loaded

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        stop = len(self) if stop is None else min(stop, len(self))
        self._pool = self._pool or ThreadPoolExecutor(self.workers, thread_name_prefix="featurelens-load")
        pending = None
        # Decoding of the next batch runs in threads while the model works on the current one.
        for begin in range(start, stop, batch_size):
            end = min(begin + batch_size, stop)
            futures = [self._pool.submit(self._load, i, channels, size) for i in range(begin, end)]
            if pending is not None:
                yield self._assemble(*pending)
            pending = (begin, end, futures)
        if pending is not None:
            yield self._assemble(*pending)

    def _assemble(self, begin: int, end: int, futures) -> SourceBatch:
        loaded = [f.result() for f in futures]
        good = [(begin + i, x) for i, x in enumerate(loaded) if isinstance(x, torch.Tensor)]
        skipped = [x for x in loaded if isinstance(x, Skipped)]
        images = torch.stack([x for _, x in good]) if good else torch.empty(0)
        return SourceBatch(images, torch.tensor([i for i, _ in good], dtype=torch.int64), end, skipped)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class FolderSource(FileSource):
    """Image files under a folder, recursively, sorted by relative path; unreadable files are skipped."""

    def __init__(self, root: Path, files: list[Path], workers: int | None = None):
        super().__init__([f.relative_to(root).as_posix() if f != root else f.name for f in files], workers)
        self.root = root
        self.files = files
        self.name = str(root)

    def fingerprint(self) -> str:
        digest = hashlib.sha1()
        for key, path in zip(self.keys, self.files):
            try:
                stat = path.stat()
                digest.update(f"{key}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{key}\t-\n".encode())
        return f"folder:{digest.hexdigest()}"

    def _load(self, index: int, channels: int, size: int) -> torch.Tensor | Skipped:
        return load_image_file(self.files[index], self.keys[index], channels, size)


class FileBytesSource(FileSource):
    """Image files whose bytes are already in memory, e.g. shipped to a Ray worker that cannot see the folder.

    An entry that could not even be read where it lies comes as its `Skipped` record.
    """

    def __init__(self, keys: list[str], contents: list[bytes | Skipped], name: str = "files", workers: int | None = None):
        super().__init__(keys, workers)
        self.contents = contents
        self.name = name

    def _load(self, index: int, channels: int, size: int) -> torch.Tensor | Skipped:
        content = self.contents[index]
        return content if isinstance(content, Skipped) else load_image_file(io.BytesIO(content), self.keys[index], channels, size)


def read_file_bytes(path: Path, key: str) -> bytes | Skipped:
    """A file's bytes, or why it cannot be read (worded as `load_image_file` words it)."""
    try:
        return path.read_bytes()
    except OSError as err:
        return Skipped(key, skip_reason(err, path))


def folder_source(path: Path, workers: int | None = None) -> FolderSource:
    """Every image file under `path` (or `path` itself if it is one image file)."""
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise FeaturelensError(f"{path} is not an image file ({', '.join(IMAGE_SUFFIXES)}): give a folder of images or one image")
        return FolderSource(path, [path], workers)
    files = sorted(
        (p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and not p.is_dir()),
        key=lambda p: p.relative_to(path).as_posix(),
    )
    if not files:
        raise FeaturelensError(f"no images in {path} (looked recursively for {' '.join(IMAGE_SUFFIXES)} files)")
    return FolderSource(path, files, workers)


# --- tensors in memory: built-in datasets and sequences ------------------------------------------------


class TensorSource(ImageSource):
    """Images already in memory as one uint8 or float tensor [N, C, H, W] (or [N, H, W]); batches are slices."""

    def __init__(self, images: torch.Tensor, name: str, fingerprint: str | None = None):
        self.images = images if images.dim() == 4 else images[:, None]
        self.name = name
        self._fingerprint = fingerprint

    def __len__(self) -> int:
        return len(self.images)

    def fingerprint(self) -> str | None:
        return self._fingerprint

    def _convert(self, images: torch.Tensor, channels: int, size: int) -> torch.Tensor:
        images = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
        return resize_square(convert_channels(images, channels), size)

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        return self._convert(self.images[index : index + 1], channels, size)[0]

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        stop = len(self) if stop is None else min(stop, len(self))
        for begin in range(start, stop, batch_size):
            end = min(begin + batch_size, stop)
            yield SourceBatch(self._convert(self.images[begin:end], channels, size), torch.arange(begin, end), end)


class PhotoSource(ImageSource):
    """The natural photos bundled with featurelens' dependencies (`featurelens.photos`)."""

    name = "photos"

    def __init__(self) -> None:
        self.photos = bundled_photos()

    def __len__(self) -> int:
        return len(self.photos)

    def fingerprint(self) -> str:
        return f"photos:{len(self.photos)}"

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        return to_model_image(self.photos[index], channels, size)

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        stop = len(self) if stop is None else min(stop, len(self))
        for begin in range(start, stop, batch_size):
            end = min(begin + batch_size, stop)
            images = torch.stack([self.image(i, channels, size) for i in range(begin, end)])
            yield SourceBatch(images, torch.arange(begin, end), end)


class IterableSource(ImageSource):
    """Any iterable of tensors, arrays or PIL images (or (image, label) pairs), read once in order.

    Sequences (anything with `__len__` and `__getitem__`) can be loaded again by index; plain
    iterators cannot, so the pass keeps the images of the current top/bottom examples itself.
    """

    def __init__(self, items: Iterable, name: str = "iterable"):
        self.items = items
        self.name = name
        self.random_access = hasattr(items, "__getitem__") and hasattr(items, "__len__")

    def __len__(self) -> int:
        return len(self.items) if hasattr(self.items, "__len__") else 0

    def image(self, index: int, channels: int, size: int) -> torch.Tensor:
        if not self.random_access:
            raise FeaturelensError("this iterable cannot be read again by index: pass a list or a Dataset")
        return tensor_to_model_image(self.items[index], channels, size)

    def batches(self, start: int, stop: int | None, batch_size: int, channels: int, size: int) -> Iterator[SourceBatch]:
        iterator = iter(self.items)
        index = 0
        for _ in range(start):  # resuming a plain iterable: read past what was done
            if next(iterator, _END) is _END:
                return
            index += 1
        while stop is None or index < stop:
            chunk = []
            while len(chunk) < batch_size and (stop is None or index < stop):
                value = next(iterator, _END)
                if value is _END:
                    break
                chunk.append(tensor_to_model_image(value, channels, size))
                index += 1
            if not chunk:
                return
            yield SourceBatch(torch.stack(chunk), torch.arange(index - len(chunk), index), index)
            if len(chunk) < batch_size:
                return


_END = object()


def open_source(source: Any, workers: int | None = None) -> ImageSource:
    """An `ImageSource` from a source spec (folder path or built-in name), a path, or an iterable of images."""
    if isinstance(source, ImageSource):
        return source
    if isinstance(source, torch.Tensor) and source.dim() in (3, 4):
        return TensorSource(source, "tensor")
    if isinstance(source, (str, Path)):
        text = str(source)
        if text.startswith("fashion-mnist"):
            return _fashion_source(text)
        if text == "photos":
            return PhotoSource()
        path = Path(text).expanduser()
        if not path.exists():
            raise FeaturelensError(
                f"data source {text!r} not found: give a folder of images or one of {', '.join(BUILTIN_SOURCES)}"
            )
        return folder_source(path, workers)
    if isinstance(source, Iterable):
        return IterableSource(source)
    raise FeaturelensError(f"cannot read images from a {type(source).__name__}: give a folder, a built-in name or an iterable")


def _fashion_source(text: str) -> TensorSource:
    _, _, split = text.partition(":")
    if split not in ("train", "test"):
        raise FeaturelensError(f"unknown built-in source {text!r}: use fashion-mnist:train or fashion-mnist:test")
    images, _ = load_fashion_mnist(split)
    return TensorSource(images, text, fingerprint=f"{text}:{len(images)}")
