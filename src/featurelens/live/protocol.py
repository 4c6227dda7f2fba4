"""The live WebSocket's messages.

Browser → server: binary messages are encoded frames (JPEG/PNG/WebP), or for an audio model audio messages
("FLA1", see `featurelens.live.audio`); text messages are JSON options `{"layer", "unit", "method", "classes", "why"}`. Server → browser: one binary message per processed
frame — the 4 bytes "FLV1", a little-endian uint32 header length, the JSON header, then the maps
(uint8 C×H×W, row-major, each channel scaled by its entry in the header's `peaks`: for a rectified layer 0 is
zero and 255 the peak; where the header says `"signed": true`, 128 is zero and 1 … 255 is −peak … +peak, the
peak being the channel's largest |value|) and, when a unit is selected, its projection picture (uint8 S×S×C) — and
text messages `{"type": "error", "message": …}` for what the page should show. For audio the header says
`"kind": "audio"` and the payload is the activations over time (uint8 C×T, the positive part scaled by each
channel's peak) then the log-mel (uint8 bands×frames).
"""

from __future__ import annotations

import json
import struct
from typing import Protocol

from featurelens.live.audio import LiveAudioFrame, decode_audio, process_audio
from featurelens.live.frames import decode_frame
from featurelens.live.session import LiveFrame, LiveOptions, LiveSession

MAGIC = b"FLV1"


def process_message(session: LiveSession, data: bytes, options: LiveOptions) -> LiveFrame | LiveAudioFrame:
    """One binary message from the page through the model, read as its modality sends them (`_READERS`): a frame for an
    image model, the newest few seconds of sound (a message of its own kind) for an audio model."""
    return _READERS[session.model.modality.name](session, data, options)


def _read_frame(session: LiveSession, data: bytes, options: LiveOptions) -> LiveFrame:
    return session.process(decode_frame(data, session.model.in_channels, session.model.input_size), options)


def _read_sound(session: LiveSession, data: bytes, options: LiveOptions) -> LiveAudioFrame:
    return process_audio(session, decode_audio(data, session.model.modality.sound), options)


_READERS = {"image": _read_frame, "audio": _read_sound}


class LiveMessage(Protocol):
    """A processed frame or sound window: its header's fields and its payload's parts (`LiveFrame`, `LiveAudioFrame`)."""

    def header(self) -> dict: ...

    def payload(self) -> list[bytes]: ...


def encode_frame(frame: LiveMessage, number: int, extra: dict | None = None) -> bytes:
    """The binary message for one processed frame (or audio window)."""
    return _message({"frame": number, **frame.header(), **(extra or {})}, frame.payload())


def _message(header: dict, payload: list[bytes]) -> bytes:
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<I", len(encoded)), encoded, *payload])


def decode_header(message: bytes) -> tuple[dict, memoryview]:
    """(header, payload) of a frame message (what the page does in JavaScript; used by tests and benchmarks)."""
    if message[:4] != MAGIC:
        raise ValueError("not a featurelens live frame")
    (length,) = struct.unpack("<I", message[4:8])
    return json.loads(message[8 : 8 + length]), memoryview(message)[8 + length :]
