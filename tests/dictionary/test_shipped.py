"""The dictionary shipped over fashion-cnn's conv3 meets issue #19's acceptance on fashion-mnist:test, every figure
computed here (not read from the file): at most 8× the channels, median top-9 class purity of live features ≥ 0.89 and
≥ 75 % of them with ≥ 7 of 9 from one class (neurons: 0.67 and 48 %), ≥ 90 % of variance explained, ≤ 5 % dead,
test accuracy with conv3 replaced by its reconstruction within 2 points of the model's."""

from __future__ import annotations

from featurelens.dataset_examples.sources import open_source
from featurelens.dictionary.file import load_dictionary
from featurelens.dictionary.labels import labels_of
from featurelens.dictionary.metrics import measure
from featurelens.dictionary.purity import feature_purity, unit_purity
from featurelens.dictionary.shipped import shipped_dictionary


def test_the_shipped_conv3_dictionary_meets_the_acceptance_on_the_test_set(fashion, one_thread) -> None:
    dictionary = load_dictionary("fashion-cnn:conv3")
    assert shipped_dictionary("fashion-cnn:conv3").is_file() and dictionary.address == "conv3/dict"
    assert dictionary.model == "fashion-cnn" and dictionary.features <= 8 * 128 == 8 * dictionary.channels
    source, labels = open_source("fashion-mnist:test"), labels_of("fashion-mnist:test")

    metrics = measure(fashion, dictionary, source, 28, labels)
    assert metrics.inputs == 10_000 and metrics.positions == 10_000 * 49
    assert metrics.fve >= 0.90
    assert metrics.dead <= 0.05
    assert metrics.accuracy - metrics.accuracy_replaced <= 0.02

    features = feature_purity(fashion, dictionary, source, labels).figures(metrics.live)
    neurons = unit_purity(fashion, source, "conv3", labels).figures()
    assert round(neurons["median"], 2) == 0.67 and round(neurons["share_pure"], 2) == 0.48
    assert features["median"] >= 0.89
    assert features["share_pure"] >= 0.75
