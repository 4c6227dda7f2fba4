"""The dictionary shipped over fashion-cnn's conv3, measured here on fashion-mnist:test (not read from the file) against
issue #19's acceptance: at most 8× the channels, median top-9 class purity of live features ≥ 0.89 and ≥ 75 % of them
with ≥ 7 of 9 from one class (neurons: 0.67 and 48 %), ≥ 90 % of variance explained, ≤ 5 % dead, test accuracy with
conv3 replaced by its reconstruction within 2 points of the model's. All are met (benchmarks/RESULTS.md, dictionary)."""

from __future__ import annotations

import pytest

from featurelens import load_model
from featurelens.data.sources import open_source
from featurelens.dictionary.file import load_dictionary
from featurelens.dictionary.labels import labels_of
from featurelens.dictionary.metrics import measure
from featurelens.dictionary.purity import feature_purity, unit_purity
from featurelens.dictionary.shipped import shipped_dictionary


@pytest.fixture(scope="module")
def measured():
    """(dictionary, its metrics, live features' purity, neurons' purity) on the whole test set."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fashion = load_model("fashion-cnn")
        dictionary = load_dictionary("fashion-cnn:conv3")
        source, labels = open_source("fashion-mnist:test"), labels_of("fashion-mnist:test")
        metrics = measure(fashion, dictionary, source, 28, labels)
        features = feature_purity(fashion, dictionary, source, labels).figures(metrics.live)
        neurons = unit_purity(fashion, source, "conv3", labels).figures()
    finally:
        torch.set_num_threads(before)
    return dictionary, metrics, features, neurons


def test_the_shipped_dictionary_is_found_by_name_and_its_live_features_are_purer_than_neurons(measured) -> None:
    dictionary, metrics, features, neurons = measured
    assert shipped_dictionary("fashion-cnn:conv3").is_file() and dictionary.address == "conv3/dict"
    assert dictionary.model == "fashion-cnn" and dictionary.features <= 8 * dictionary.channels == 8 * 128
    assert metrics.inputs == 10_000 and metrics.positions == 10_000 * 49
    assert round(neurons["median"], 2) == 0.67 and round(neurons["share_pure"], 2) == 0.48
    assert features["median"] >= 0.89
    assert features["share_pure"] >= 0.75


def test_the_shipped_dictionary_rebuilds_conv3_well_enough(measured) -> None:
    """Its directions are the archetypes' (purity), its gains, biases and decoder the closed form's (reconstruction)."""
    dictionary, metrics, _, _ = measured
    assert dictionary.settings["closed_form"] and dictionary.k == 128 and metrics.l0 == 128
    assert metrics.fve >= 0.90
    assert metrics.dead <= 0.05
    assert metrics.accuracy - metrics.accuracy_replaced <= 0.02
