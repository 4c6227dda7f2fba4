"""A dictionary's features rank like channels (`LAYER/NAME` is a layer), and their concept direction is folded back
onto the layer below it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.concepts.direction_unit import concept_layer
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.dictionary.file import Dictionary
from featurelens.models import model_for


@pytest.fixture(scope="module")
def scaled_features(tmp_path_factory):
    """A dictionary over conv3 whose feature f is 2 × channel f + 1: it ranks exactly as the channels do."""
    channels = 128
    dictionary = Dictionary("fashion-cnn", "conv3", "topk", 4, 1.0, 2 * torch.eye(channels), torch.ones(channels), torch.eye(channels),
                            torch.zeros(channels), name="twice")
    return dictionary.save(tmp_path_factory.mktemp("dictionary") / "twice.pt")


def test_features_rank_as_the_channels_they_scale_and_their_direction_folds_onto_the_layer(scaled_features) -> None:
    images, labels = load_fashion_mnist("test")
    trouser = FASHION_CLASSES.index("Trouser")
    positives = images[labels == trouser][:20, None]
    negatives = images[labels != trouser][:200, None]
    model = model_for("fashion-cnn", "cpu", dictionaries=[scaled_features])
    result = fl.find(model, ["conv3", "conv3/twice"], positives, negatives, data=negatives, steps=2, size=28, units=2, k=2, progress=False)
    by_unit = {(u.layer, u.channel): u.auc for u in result.ranking}
    for channel in range(128):
        assert by_unit[("conv3/twice", channel)] == pytest.approx(by_unit[("conv3", channel)], abs=1e-9)
    # The direction over the features, as a dictionary, reads conv3 itself: the same probe as the one over conv3 (the
    # features are the channels scaled), so its examples are the same.
    folded = result.concepts["conv3/twice"]
    assert folded.layer == "conv3" and folded.address == concept_layer("conv3/twice") == "conv3/twice.concept"
    direct = result.concepts["conv3"]
    cosine = float(folded.direction(0) @ direct.direction(0))
    assert cosine > 0.99
    assert result.top_examples(concept_layer("conv3/twice"), 0) == result.top_examples(concept_layer("conv3"), 0)
    assert np.isfinite(result.probes["conv3/twice"].weight).all()
