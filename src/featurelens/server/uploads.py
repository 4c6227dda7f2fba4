"""Uploads from the page: size-limited, checked to be images (audio files, for an audio model), kept in memory (the newest few)."""

from __future__ import annotations

import io
import secrets
import threading
from collections import OrderedDict

from featurelens.errors import FeaturelensError
from featurelens.live.audio import open_audio_bytes
from featurelens.live.frames import open_image_bytes
from featurelens.audio.input import AudioInput

KEPT = 16  # uploads remembered at once; older ones are forgotten first
KEPT_BYTES = 256 << 20  # … and at most this much of them (decoded sounds are large)


class UploadStore:
    """Checked uploads by id: images as JPEG bytes, or with `audio` (an audio model's input) sounds as WAV at its rate."""

    def __init__(self, limit_bytes: int, audio: AudioInput | None = None):
        self.limit_bytes = limit_bytes
        self.audio = audio
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def suffix(self) -> str:
        return "wav" if self.audio else "jpg"

    def add(self, data: bytes) -> dict:
        """Store an image (or sound); anything else is a one-line error. Returns {"id", "url"} and the image's
        "width" and "height" (the sound's "seconds")."""
        buffer = io.BytesIO()
        if self.audio:
            import soundfile

            sound = open_audio_bytes(data, self.audio.sample_rate)
            soundfile.write(buffer, sound, self.audio.sample_rate, format="WAV", subtype="FLOAT")
            facts = {"seconds": len(sound) / self.audio.sample_rate}
        else:
            image = open_image_bytes(data, "upload")
            image.convert("RGB").save(buffer, format="JPEG", quality=92)
            facts = {"width": image.width, "height": image.height}
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = buffer.getvalue()
            while len(self._items) > KEPT or (len(self._items) > 1 and sum(map(len, self._items.values())) > KEPT_BYTES):
                self._items.popitem(last=False)
        return {"id": key, "url": f"/api/uploads/{key}.{self.suffix}", **facts}

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self._items:
                raise FeaturelensError(f"no upload {key!r}: upload the image again")
            return self._items[key]

    def too_large(self, size: int) -> bool:
        return size > self.limit_bytes
