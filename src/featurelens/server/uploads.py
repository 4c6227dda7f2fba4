"""Images uploaded from the page: size-limited, checked to be images, kept in memory (the newest few)."""

from __future__ import annotations

import io
import secrets
import threading
from collections import OrderedDict

from featurelens.errors import FeaturelensError
from featurelens.live.frames import open_image_bytes

KEPT = 16  # uploads remembered at once; older ones are forgotten first


class UploadStore:
    """Checked uploads as JPEG bytes by id."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data: bytes) -> dict:
        """Store an image; a non-image is a one-line error. Returns {"id", "url", "width", "height"}."""
        image = open_image_bytes(data, "upload")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=92)
        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = buffer.getvalue()
            while len(self._items) > KEPT:
                self._items.popitem(last=False)
        return {"id": key, "url": f"/api/uploads/{key}.jpg", "width": image.width, "height": image.height}

    def get(self, key: str) -> bytes:
        with self._lock:
            if key not in self._items:
                raise FeaturelensError(f"no upload {key!r}: upload the image again")
            return self._items[key]

    def too_large(self, size: int) -> bool:
        return size > self.limit_bytes
