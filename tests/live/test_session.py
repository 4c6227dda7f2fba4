"""The live session runs a BatchNorm-folded copy of the model: its maps, classes and "why" must be the model's own."""

import numpy as np
import torch

from featurelens.capture import LOGIT, capture_activations
from featurelens.live import LiveOptions, LiveSession
from featurelens.live.session import scaled_maps
from featurelens.photos import photo_batch


def test_folded_frames_match_the_model_and_grid_and_classes_frames_can_alternate(lite0) -> None:
    session = LiveSession(lite0)
    image = photo_batch(lite0.input_size)[1:2]  # the cat
    with torch.no_grad():
        expected = capture_activations(lite0.module, lite0.normalize(image), ["_blocks.8", LOGIT], stop_early=False)
    expected_maps, _ = scaled_maps(expected["_blocks.8"][0])
    for classes in [False, True, False, True]:  # one set of hooks on the copy: a grid frame must not cut a classes frame short
        frame = session.process(image, session.check(LiveOptions(layer="_blocks.8", classes=classes, why=classes)))
        assert np.abs(frame.maps.astype(int) - expected_maps.astype(int)).max() <= 1
        if classes:
            assert frame.classes[0]["index"] == int(expected[LOGIT].argmax())
            assert "cat" in frame.classes[0]["label"]
            assert len(frame.why) == 12 and frame.why[0]["contribution"] > 0
    assert session.runners.folded("_blocks.8") is not lite0.module  # it did run on the folded copy
    for layer in ["_blocks.4", "_blocks.15", "_blocks.8"]:  # copies kept for two layers; older ones let go
        session.process(image, session.check(LiveOptions(layer=layer, classes=False, why=False)))
    assert session.runners.layers() == ["_blocks.15", "_blocks.8"]
    assert not any(m._forward_hooks for m in lite0.module.modules())  # the user's model is never left hooked
