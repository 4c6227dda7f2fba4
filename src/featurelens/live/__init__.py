"""The live view: a camera frame in, a layer's activation maps (plus classes, why-this-class, a unit's projection) out."""

from featurelens.live.frames import decode_frame
from featurelens.live.protocol import encode_frame
from featurelens.live.session import LiveFrame, LiveOptions, LiveSession

__all__ = ["LiveFrame", "LiveOptions", "LiveSession", "decode_frame", "encode_frame"]
