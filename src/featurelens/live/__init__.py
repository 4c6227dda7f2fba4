"""The live view: a camera frame in, a layer's activation maps (plus classes, why-this-class, a unit's projection) out;
for an audio model, the last few seconds of sound in, the layer's activations over time out."""

from featurelens.live.audio import LiveAudioFrame, decode_audio, open_audio_bytes, process_audio
from featurelens.live.frames import decode_frame
from featurelens.live.protocol import encode_frame, process_message
from featurelens.live.session import LiveFrame, LiveOptions, LiveSession

__all__ = ["LiveAudioFrame", "LiveFrame", "LiveOptions", "LiveSession", "decode_audio", "decode_frame", "encode_frame",
           "open_audio_bytes", "process_audio", "process_message"]
