"""The cold-start network: addressable layers, conventions, shipped weights that load strictly and stay small."""

from __future__ import annotations

from importlib import resources

import pytest
import torch

from featurelens.audio.network import (
    MusicCNN,
    MusicModel,
    load_music_cnn,
    load_music_model,
    min_frames,
    save_music_model,
)
from featurelens.errors import FeaturelensError


def test_shapes_and_named_layers():
    net = MusicCNN(n_mels=64, factors=32).eval()
    names = dict(net.named_modules())
    for name in ("conv1", "relu1", "pool1", "conv2", "pool2", "conv3", "relu3", "pool", "fc1", "fc2"):
        assert name in names
    assert names["conv1"].in_channels == 64  # mel bands are the channels; convolution runs over time
    seen = {}
    hook = names["conv3"].register_forward_hook(lambda module, args, out: seen.update(conv3=out.shape))
    out = net(torch.randn(3, 64, 188))
    hook.remove()
    assert out.shape == (3, 32) and seen["conv3"] == (3, 128, 18)
    # Global temporal pooling: any length from the receptive field up works, and shorter fails clearly.
    assert min_frames(net) == 47
    assert net(torch.randn(1, 64, 47)).shape == (1, 32) and net(torch.randn(1, 64, 900)).shape == (1, 32)
    with pytest.raises(RuntimeError):
        net(torch.randn(1, 64, 46))


def test_shipped_weights_load_with_conventions():
    path = resources.files("featurelens.audio").joinpath("weights/music_cnn.pt")
    assert path.is_file() and path.stat().st_size <= 2_000_000
    model = load_music_cnn()
    assert isinstance(model, MusicModel) and model.spec == "music-cnn"
    assert (model.sample_rate, model.n_mels, model.hop_length, model.clip_seconds) == (16000, 64, 256, 3.0)
    assert model.clip_samples == 48000 and model.min_samples == 46 * 256 and model.factors == 32
    assert not any(p.requires_grad for p in model.module.parameters()) and not model.module.training
    assert model.module.factor_scale.item() > 0 and (model.module.norm.std > 0).all()


def test_predict_on_real_clips(small_collection, small_labels):
    from featurelens.audio.collection import read_clips

    model = load_music_cnn()
    waveforms = torch.from_numpy(read_clips(small_collection.folder, small_labels.slice(0, 8)))
    factors = model.predict(waveforms, batch_size=3)
    assert factors.shape == (8, 32) and torch.isfinite(factors).all()
    assert torch.allclose(factors, model.module(model.log_mel(waveforms)), atol=1e-5)
    with pytest.raises(FeaturelensError, match="receptive field"):
        model.predict(waveforms[:, : model.min_samples - 1])


def test_save_and_load_round_trip(tmp_path):
    model = load_music_cnn()
    save_music_model(model, tmp_path / "m.pt", extra={"note": "copy"})
    again = load_music_model(tmp_path / "m.pt", spec="mine")
    x = torch.randn(2, 64, 100)
    assert again.spec == "mine" and torch.equal(again.module(x), model.module(x))
