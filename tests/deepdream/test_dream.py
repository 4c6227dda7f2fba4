"""DeepDream on real photos with the default model (EfficientNet-Lite0, real ImageNet weights)."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featurelens.capture import capture_activations
from featurelens.deepdream import TiledGradient, dream
from featurelens.errors import FeaturelensError
from featurelens.memory import LiveTensorBytes
from featurelens.deepdream.files import write_dream
from featurelens.images import center_square
from featurelens.photos import bundled_photos, photo_batch


@pytest.fixture(scope="module")
def default_dream(lite0):
    """The default objective (_blocks.8, whole layer) and settings (4 octaves × 10 steps) on the coffee photo."""
    photo = photo_batch(256)[2:3]
    return photo, dream(lite0, photo, seed=0)


def test_default_dream_raises_the_objective_across_octaves(default_dream) -> None:
    photo, result = default_dream
    assert result.objective == "_blocks.8"
    assert result.image.shape == photo.shape
    assert [o.size for o in result.octaves] == [(93, 93), (131, 131), (183, 183), (256, 256)]
    assert all(len(o.values) == 10 for o in result.octaves)
    assert result.final_value > 2.0 * result.initial_value  # a wide margin
    for octave in result.octaves:
        assert octave.values[-1] > octave.values[0]  # every octave climbs
    ends = [o.values[-1] for o in result.octaves]
    assert ends == sorted(ends)  # and each octave ends above the one before


def test_dream_changes_the_photo_visibly_but_keeps_its_layout(default_dream) -> None:
    photo, result = default_dream
    change = (result.image - photo).abs().mean().item()
    assert 0.03 < change < 0.3
    low = lambda x: F.avg_pool2d(x, 16)  # noqa: E731  (coarse layout survives the dream)
    assert torch.corrcoef(torch.stack([low(photo).flatten(), low(result.image).flatten()]))[0, 1] > 0.8


def responsive_channel(model, photo: torch.Tensor, layer: str) -> tuple[int, torch.Tensor]:
    """The channel that responds most locally: active somewhere, never saturated (ReLU6 stops gradients at 6)."""
    activation = capture_activations(model.module, model.normalize(photo), [layer])[layer][0]
    flat = activation.flatten(1)
    active = (flat > 0).float().mean(1)
    usable = (flat.amax(1) > 1) & (flat.amax(1) < 5) & (active > 0.05)
    channel = int(torch.where(usable, active, torch.full_like(active, 2.0)).argmin())
    return channel, activation[channel]


@pytest.mark.parametrize("photo_index", [0, 1, 2])  # astronaut, chelsea, coffee
def test_change_follows_where_the_chosen_unit_responds(lite0, photo_index) -> None:
    layer = "_blocks.4._expand_act"
    photo = photo_batch(224)[photo_index : photo_index + 1]
    channel, response = responsive_channel(lite0, photo, layer)
    result = dream(lite0, photo, objective=f"{layer}:{channel}", octaves=1, steps=5, jitter=0)
    change = (result.image - photo).abs().sum(1)[0]
    upsampled = F.interpolate(response[None, None], size=photo.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    correlation = torch.corrcoef(torch.stack([change.flatten(), upsampled.flatten()]))[0, 1].item()
    assert correlation > 0.2
    responds = upsampled > 0.05 * upsampled.max()
    concentration = (change[responds].sum() / change.sum()) / responds.float().mean()
    assert concentration > 2.0  # change per pixel where the unit responds: over twice the image's average


def test_same_seed_same_png_bytes_and_another_seed_differs(lite0, tmp_path) -> None:
    photo = photo_batch(80)[1:2]
    settings = dict(objective="_blocks.5", octaves=2, steps=2)
    first = write_dream(dream(lite0, photo, seed=7, **settings), tmp_path / "a.png")[0].read_bytes()
    again = write_dream(dream(lite0, photo, seed=7, **settings), tmp_path / "b.png")[0].read_bytes()
    other = write_dream(dream(lite0, photo, seed=8, **settings), tmp_path / "c.png")[0].read_bytes()
    assert first == again
    assert first != other


def test_guided_dream_pulls_features_towards_the_guide(lite0) -> None:
    photo = photo_batch(128)[2:3]
    guide = photo_batch(128)[1:2]
    guided = dream(lite0, photo, objective="_blocks.5", guide=guide, octaves=2, steps=3)
    plain = dream(lite0, photo, objective="_blocks.5", octaves=2, steps=3)
    assert guided.objective == "_blocks.5 (guided)"
    assert guided.final_value > 1.5 * guided.initial_value
    assert (guided.image - plain.image).abs().mean() > 0.02  # the guide changes what is dreamed


def test_save_octaves_writes_each_octave(lite0, tmp_path) -> None:
    result = dream(lite0, photo_batch(64)[0:1], objective="_blocks.2", octaves=2, steps=1)
    paths = write_dream(result, tmp_path / "d.png", save_octaves=True)
    assert [p.name for p in paths] == ["d.png", "d_octave0.png", "d_octave1.png", "d.json"]


def test_errors_are_one_line(lite0) -> None:
    with pytest.raises(FeaturelensError, match="minimum input size"):
        dream(lite0, torch.rand(1, 3, 20, 20))
    with pytest.raises(FeaturelensError, match="out of range"):
        dream(lite0, photo_batch(64)[:1], objective="_blocks.5:3@30,30")
    with pytest.raises(FeaturelensError, match="whole layers"):
        dream(lite0, photo_batch(64)[:1], objective="_blocks.5:3", guide=photo_batch(64)[1:2])


def working_memory(monkeypatch, meter: LiveTensorBytes) -> list[int]:
    """Record, for every tiled-gradient call, its peak live bytes above what was live when it started."""
    records: list[int] = []
    original = TiledGradient._run

    def measured(self, image, generator, with_grad):
        start = meter.open_window()
        try:
            return original(self, image, generator, with_grad)
        finally:
            records.append(meter.window_peak - start)

    monkeypatch.setattr(TiledGradient, "_run", measured)
    return records


def test_2048_image_dreams_in_memory_bounded_by_the_tile(lite0, monkeypatch) -> None:
    """Measured, not assumed: live tensor bytes (every storage allocated under a dispatch mode until freed)."""
    settings = dict(objective="_blocks.2", octaves=1, steps=1)
    with LiveTensorBytes() as meter:
        untiled = working_memory(monkeypatch, meter)
        dream(lite0, photo_batch(512)[:1], tile=512, **settings)  # 512² fits one tile: an untiled gradient
    untiled_bytes = max(untiled)

    big = torch.from_numpy(np.asarray(center_square(bundled_photos()[0], 2048), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    image_bytes = big.numel() * 4  # 50 MB
    with LiveTensorBytes() as meter:
        tiled = working_memory(monkeypatch, meter)
        result = dream(lite0, big, tile=256, **settings)
    assert result.image.shape == big.shape and result.final_value > result.initial_value
    tile_bytes = max(tiled) - image_bytes  # less the gradient accumulator, which is image-sized by nature
    # Bound stated: the 256² tiles of a 2048² image need under 100 MB of working memory ...
    assert tile_bytes < 100e6
    # ... less than one untiled gradient of an image 16× smaller (measured above: > 150 MB) ...
    assert untiled_bytes > 150e6 and tile_bytes < untiled_bytes / 2
    # ... and the whole dream holds a few image-sized buffers plus one tile's work, far below an untiled
    # 2048² gradient (≈ 16 × the 512² one).
    assert meter.peak < 10 * image_bytes + 100e6
    assert meter.peak < untiled_bytes * 16 / 4


def test_ctrl_c_keeps_the_dream_so_far_at_full_size(lite0) -> None:
    photo = photo_batch(96)[2:3]
    steps_done = []

    def progress(done: int, total: int) -> None:
        steps_done.append(done)
        if len(steps_done) == 3:  # Ctrl-C during the second octave
            raise KeyboardInterrupt

    result = dream(lite0, photo, objective="_blocks.5", octaves=2, steps=2, progress=progress)
    assert result.interrupted and len(result.octaves) == 2
    assert result.image.shape == photo.shape
    assert (result.image - photo).abs().mean() > 0.001  # the finished steps are kept
