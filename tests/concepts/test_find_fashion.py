"""`find` on fashion-cnn with real trousers: the acceptance of issue #19 (a unit and the direction whose top 9 on the
test set are trousers), checked with the test set's own labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.capture import ActivationCapture
from featurelens.concepts.direction_unit import concept_layer
from featurelens.data.fashion_mnist import FASHION_CLASSES, load_fashion_mnist
from featurelens.dictionary.file import load_dictionary

TROUSER = FASHION_CLASSES.index("Trouser")


@pytest.fixture(scope="module")
def trousers_found(fashion, tmp_path_factory):
    images, labels = load_fashion_mnist("test")
    positives = images[labels == TROUSER][:60, None]  # uint8 [60, 1, 28, 28]
    result = fl.find(fashion, "conv3", positives, steps=16, size=28, units=2, progress=False)
    return result, labels, result.save(tmp_path_factory.mktemp("trousers"))


def test_the_best_unit_and_the_direction_have_trousers_as_top_examples(trousers_found) -> None:
    result, labels, _ = trousers_found
    best = result.top[0]
    assert best.layer == "conv3" and best.auc > 0.85
    top = result.top_examples("conv3", best.channel)
    assert len(top) == 9 and (labels[top] == TROUSER).sum() >= 7
    direction = result.top_examples(concept_layer("conv3"), 0)
    assert (labels[direction] == TROUSER).sum() >= 8
    assert result.probes["conv3"].held_out_auc > 0.9


def test_negatives_default_to_the_test_set_without_the_positives(trousers_found) -> None:
    result, _, _ = trousers_found
    assert result.negatives == "fashion-mnist:test" and result.data == "fashion-mnist:test"
    assert result.negative_counts.repeats == 60 and result.negative_counts.whole == 10_000 - 60
    assert result.positive_counts.whole == 60 and result.positive_counts.crops == 0
    assert [u.auc for u in result.ranking] == sorted((u.auc for u in result.ranking), reverse=True)
    assert len(result.ranking) == 128


def test_the_direction_is_saved_and_its_examples_are_ranked_by_the_probe_score(trousers_found, fashion) -> None:
    result, _, index = trousers_found
    folder = index.parent
    saved = np.load(folder / "concept-conv3.npy")
    np.testing.assert_allclose(saved, result.direction("conv3"))
    assert abs(np.linalg.norm(saved) - 1) < 1e-5
    dictionary = load_dictionary(folder / "concept-conv3.pt")
    assert dictionary.address == "conv3/concept"
    np.testing.assert_allclose(dictionary.direction(0).numpy(), saved, atol=1e-6)
    ranking = json.loads((folder / "ranking.json").read_text())
    assert ranking["top"][0]["unit"] == result.top[0].unit and len(ranking["ranking"]) == 128
    # The direction's example score is the probe's logit on the mean-pooled layer.
    examples, layer = result.examples_of(concept_layer("conv3"))
    first = int(layer.ranked["max"].indices[0, 0])
    image = examples.source.image(first, 1, 28)[None]
    with torch.no_grad(), ActivationCapture(fashion.module, ["conv3"]) as capture:
        pooled = capture.run(fashion.normalize(image))["conv3"].flatten(2).mean(-1).numpy()
    assert result.probes["conv3"].scores(pooled)[0] == pytest.approx(float(layer.ranked["max"].scores[0, 0]), rel=1e-4, abs=1e-4)


def test_the_saved_direction_renders_like_any_unit(trousers_found, fashion) -> None:
    result, _, index = trousers_found
    address = f"conv3:dir={index.parent / 'concept-conv3.npy'}"
    rendered = fl.render(fashion, address, steps=48, size=28, data="photos", retry=False, progress=False)  # small data: quick
    assert rendered.units[0].unit == address and rendered.images.shape == (1, 28, 28, 1)
    assert rendered.units[0].activation > 0
