"""A dictionary's features rank like channels (`LAYER/NAME` is a layer), and their concept direction, folded back onto
the layer below, scores each input as the probe over the features does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelens.capture import ActivationCapture
from featurelens.concepts.direction_unit import ConceptScore, concept_dictionary, concept_layer
from featurelens.concepts.find import rank_units
from featurelens.concepts.pooled import pool_inputs
from featurelens.concepts.probe import fit_probe
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.data.sources import TensorSource
from featurelens.dictionary.attach import attach_dictionary, detach_dictionary
from featurelens.dictionary.file import Dictionary
from featurelens.models import model_for

LAYERS = ["conv3", "conv3/twice"]


@pytest.fixture(scope="module")
def with_features(tmp_path_factory):
    """fashion-cnn with a dictionary over conv3 whose feature f is 2 × channel f + 1 (so it ranks as the channel does)
    and one more feature, channel 0 minus channel 1."""
    channels = 128
    encoder = torch.cat([2 * torch.eye(channels), torch.eye(channels)[:1] - torch.eye(channels)[1:2]])
    dictionary = Dictionary("fashion-cnn", "conv3", "topk", 4, 1.0, encoder, torch.ones(channels + 1), torch.eye(channels + 1, channels),
                            torch.zeros(channels), name="twice")
    path = dictionary.save(tmp_path_factory.mktemp("dictionary") / "twice.pt")
    return model_for("fashion-cnn", "cpu", dictionaries=[path])


def test_features_rank_like_the_channels_they_scale_and_their_direction_folds_onto_the_layer(with_features) -> None:
    model = with_features
    images, labels = load_fashion_mnist("test")
    trouser = labels == FASHION_CLASSES.index("Trouser")
    positives = pool_inputs(model, TensorSource(images[trouser][:30], "trousers"), LAYERS, 28, 64)
    negatives = pool_inputs(model, TensorSource(images[~trouser][:120], "others"), LAYERS, 28, 64)
    auc = {(u.layer, u.channel): u.auc for u in rank_units(positives, negatives, LAYERS, "max")}
    assert len(auc) == 128 + 129
    for channel in range(128):
        assert auc[("conv3/twice", channel)] == pytest.approx(auc[("conv3", channel)], abs=1e-12)
    probe = fit_probe(positives.scores["mean"]["conv3/twice"], negatives.scores["mean"]["conv3/twice"])
    folded = concept_dictionary(model.spec, model.module, "conv3/twice", probe)
    assert folded.layer == "conv3" and folded.address == concept_layer("conv3/twice") == "conv3/twice.concept"
    # Attached, the folded direction scores an input as the probe scores the input's mean-pooled features.
    name = attach_dictionary(model.module, folded, ConceptScore)
    try:
        batch = images[~trouser][:5, None].float() / 255
        with torch.no_grad(), ActivationCapture(model.module, [name, "conv3/twice"]) as capture:
            found = capture.run(model.normalize(batch))
        expected = probe.scores(found["conv3/twice"].flatten(2).mean(-1).double().numpy())
        np.testing.assert_allclose(found[name][:, 0].double().numpy(), expected, rtol=1e-4, atol=1e-4)
    finally:
        detach_dictionary(model.module, name)
