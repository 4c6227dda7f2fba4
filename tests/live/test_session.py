"""The live session runs a BatchNorm-folded copy of the model: its maps, classes and "why" must be the model's own."""

import warnings

import numpy as np
import torch
import torch.fx as fx

from featurelens.capture import LOGIT, capture_activations
from featurelens.live import LiveOptions, LiveSession
from featurelens.live.session import scaled_maps
from featurelens.photos import photo_batch


def test_folded_frames_match_the_model_and_grid_and_classes_frames_can_alternate(lite0) -> None:
    session = LiveSession(lite0)
    image = photo_batch(lite0.input_size)[1:2]  # the cat
    with torch.no_grad():
        expected = capture_activations(lite0.module, lite0.normalize(image), ["_blocks.8", LOGIT], stop_early=False)
    expected_maps, _ = scaled_maps(expected["_blocks.8"][0], signed=True)  # a linear bottleneck: signed
    for classes in [False, True, False, True]:  # one set of hooks on the copy: a grid frame must not cut a classes frame short
        frame = session.process(image, session.check(LiveOptions(layer="_blocks.8", classes=classes, why=classes)))
        assert frame.signed and np.abs(frame.maps.astype(int) - expected_maps.astype(int)).max() <= 1
        if classes:
            assert frame.classes[0]["index"] == int(expected[LOGIT].argmax())
            assert "cat" in frame.classes[0]["label"]
            assert len(frame.why) == 12 and frame.why[0]["contribution"] > 0
    assert session.runners.folded("_blocks.8") is not lite0.module  # it did run on the folded copy
    for layer in ["_blocks.4", "_blocks.15", "_blocks.8"]:  # copies kept for two layers; older ones let go
        session.process(image, session.check(LiveOptions(layer=layer, classes=False, why=False)))
    assert session.runners.layers() == ["_blocks.15", "_blocks.8"]
    assert not any(m._forward_hooks for m in lite0.module.modules())  # the user's model is never left hooked


def test_the_grid_runs_an_eager_cut_of_the_folded_copy_and_makes_no_torchscript(lite0) -> None:
    session = LiveSession(lite0)
    layer = session.default_layer
    image = photo_batch(lite0.input_size)[1:2]
    with torch.no_grad():
        expected = capture_activations(lite0.module, lite0.normalize(image), [layer])[layer]
    expected_maps, _ = scaled_maps(expected[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # torch 2.13 warns on every torch.jit entry point
        frames = [session.process(image, session.check(LiveOptions(layer=layer, classes=False, why=False))) for _ in range(2)]
    cut = session.runners.cut(layer)
    assert isinstance(cut, fx.GraphModule) and cut is not session.runners.folded(layer)  # the fast path, not hooks
    assert not any(isinstance(m, torch.jit.ScriptModule) for m in cut.modules())
    for frame in frames:  # the first frame (which makes the cut) and the next (which runs it)
        assert np.abs(frame.maps.astype(int) - expected_maps.astype(int)).max() <= 1


def test_the_live_default_is_a_rectified_mid_layer_and_signed_layers_are_known_from_the_start(lite0) -> None:
    session = LiveSession(lite0)
    assert session.default_layer == "_blocks.8._depthwise_act"  # the block's output is linear; its activation is not
    assert {"_blocks.8", "_blocks.8._bn1", "_blocks.15"} <= session.signed
    assert not {"_stem_act", "_blocks.8._expand_act", "_blocks.8._depthwise_act"} & session.signed
    image = photo_batch(lite0.input_size)[1:2]
    frame = session.process(image, session.check(LiveOptions(layer=session.default_layer, classes=False, why=False)))
    assert not frame.signed and frame.maps.max() == 255 and (frame.maps == 0).any()
    flat = {}
    for unit in (10, 15, 75):  # on the cat: 3.9 at its peak; 0 everywhere; clipped at ReLU6's 6 (no gradient passes)
        options = session.check(LiveOptions(layer=session.default_layer, unit=unit, classes=False, why=False))
        frame = session.process(image, options)
        flat[unit] = frame.unit["flat"]
        assert flat[unit] == (int(frame.projection.max()) == int(frame.projection.min()))  # flagged when the picture is one grey
    assert flat == {10: False, 15: True, 75: True}


def test_signed_maps_put_zero_at_128_and_scale_each_channel_by_its_largest_magnitude() -> None:
    activation = torch.tensor([[[-2.0, 0.0], [1.0, 2.0]], [[-4.0, -1.0], [0.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
    maps, peaks = scaled_maps(activation, signed=True)
    assert peaks == [2.0, 4.0, 0.0]
    assert maps[0].tolist() == [[1, 128], [192, 255]]  # 128 ± 127 × value / peak, rounded
    assert maps[1].tolist() == [[1, 96], [128, 192]]
    assert (maps[2] == 128).all()
    rectified, rectified_peaks = scaled_maps(activation)
    assert rectified[0].tolist() == [[0, 0], [128, 255]] and rectified_peaks == [2.0, 2.0, 0.0]


def test_a_layer_seen_below_zero_once_stays_signed(fashion) -> None:
    session = LiveSession(fashion)
    assert session.default_layer == "relu2" and session.signed == {"conv1", "conv2", "conv3"}
    session.signed.discard("conv1")  # as if the photos had not shown it: the first frame below zero does
    options = session.check(LiveOptions(layer="conv1", classes=False, why=False))
    frames = [session.process(image[None], options) for image in photo_batch(fashion.input_size, 1)[:3]]
    assert all(frame.signed for frame in frames) and "conv1" in session.signed
