"""Uploads from the page: size-limited, checked to be the model's kind of input (images; audio files for an audio
model), kept in memory (the newest few)."""

from __future__ import annotations

import io
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from featurelens.errors import FeaturelensError
from featurelens.live.audio import open_audio_bytes
from featurelens.live.frames import open_image_bytes
from featurelens.models.modality import ImageModality, Modality

KEPT = 16  # uploads remembered at once; older ones are forgotten first
KEPT_BYTES = 256 << 20  # … and at most this much of them (decoded sounds are large)


class UploadKind(Protocol):
    """What an upload is for a model's modality (`UPLOADS`): how it is called, checked and kept, and the file type it is served as."""

    noun: str  # what the page is told to send: "image", "sound"
    suffix: str  # the type it is served as: /api/uploads/ID.SUFFIX

    def encode(self, data: bytes) -> tuple[bytes, dict]: ...


@dataclass(frozen=True)
class ImageUpload:
    """An image upload, kept as JPEG."""

    modality: Modality
    noun: str = "image"
    suffix: str = "jpg"

    def encode(self, data: bytes) -> tuple[bytes, dict]:
        """(JPEG bytes, {"width", "height"}) of an uploaded image; anything else is a one-line error."""
        image = open_image_bytes(data, "upload")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=92)
        return buffer.getvalue(), {"width": image.width, "height": image.height}


@dataclass(frozen=True)
class SoundUpload:
    """A sound upload, kept as WAV at the model's sample rate."""

    modality: Modality
    noun: str = "sound"
    suffix: str = "wav"

    def encode(self, data: bytes) -> tuple[bytes, dict]:
        """(WAV bytes, {"seconds"}) of an uploaded sound file; anything else is a one-line error."""
        import soundfile

        rate = self.modality.sound.sample_rate
        sound = open_audio_bytes(data, rate)
        buffer = io.BytesIO()
        soundfile.write(buffer, sound, rate, format="WAV", subtype="FLOAT")
        return buffer.getvalue(), {"seconds": len(sound) / rate}


UPLOADS = {"image": ImageUpload, "audio": SoundUpload}  # what an upload is, by `Modality.name`


class UploadStore:
    """Checked uploads by id, as the model's `modality` takes them: images as JPEG bytes, sounds as WAV at its rate."""

    def __init__(self, limit_bytes: int, modality: Modality = ImageModality()):
        self.limit_bytes = limit_bytes
        self.kind: UploadKind = UPLOADS[modality.name](modality)
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def suffix(self) -> str:
        return self.kind.suffix

    def add(self, data: bytes) -> dict:
        """Store an image (or sound); anything else is a one-line error. Returns {"id", "url"} and the image's
        "width" and "height" (the sound's "seconds")."""
        stored, facts = self.kind.encode(data)
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = stored
            while len(self._items) > KEPT or (len(self._items) > 1 and sum(map(len, self._items.values())) > KEPT_BYTES):
                self._items.popitem(last=False)
        return {"id": key, "url": f"/api/uploads/{key}.{self.suffix}", **facts}

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self._items:
                raise FeaturelensError(f"no upload {key!r}: upload the {self.kind.noun} again")
            return self._items[key]

    def too_large(self, size: int) -> bool:
        return size > self.limit_bytes
