"""The data's best item on a render's objective: equal to a direct maximum, cached per weights, and read back."""

from __future__ import annotations

import copy

import pytest
import torch

import featurelens.rendering.data_best as data_best_module
from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.data.sources import TensorSource
from featurelens.model_cache import ModelCache
from featurelens.models import LoadedModel
from featurelens.rendering.data_best import CACHE_NAME, cache_key, data_best
from featurelens.units import as_expressions

ITEMS = 600  # the first Fashion-MNIST test items: the same figures as the whole set, at a tenth of the cost


@pytest.fixture(scope="module")
def items() -> TensorSource:
    images, _ = load_fashion_mnist("test")
    return TensorSource(images[:ITEMS], "fashion-mnist:test[:600]", fingerprint=f"fashion-mnist:test:first{ITEMS}")


@pytest.fixture
def passes(monkeypatch) -> list:
    """Every pass over the data that `data_best` makes."""
    made = []
    stream = data_best_module._stream

    def counted(*args):
        made.append(args[2])
        return stream(*args)

    monkeypatch.setattr(data_best_module, "_stream", counted)
    return made


def direct_best(model: LoadedModel, source: TensorSource, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Every channel's highest spatial mean over the items, and the item giving it, from one plain forward."""
    images = source.images.float()[:, :1] / 255
    means = capture_activations(model.module, model.normalize(images), [layer])[layer].mean((2, 3))
    return means.max(0)


def test_the_best_item_equals_a_direct_maximum_and_minimum(fashion, items, one_thread):
    targets = as_expressions(["conv3:4", "conv3:74", "-conv3:52", "conv3:1+conv3:2"])
    found = data_best(fashion, items, targets, 28)
    top, where = direct_best(fashion, items, "conv3")
    images = items.images.float()[:, :1] / 255
    means = capture_activations(fashion.module, fashion.normalize(images), ["conv3"])["conv3"].mean((2, 3))
    assert found[targets[0]].value == pytest.approx(float(top[4]), abs=1e-5) and found[targets[0]].index == int(where[4])
    assert found[targets[1]].value == pytest.approx(float(top[74]), abs=1e-5)
    assert found[targets[2]].value == pytest.approx(-float(means[:, 52].min()), abs=1e-5)
    assert found[targets[2]].index == int(means[:, 52].argmin())
    assert found[targets[3]].value == pytest.approx(float((means[:, 1] + means[:, 2]).max()), abs=1e-5)


def test_a_second_call_reads_the_cache_and_equals_the_fresh_figures(fashion, items, passes, one_thread):
    cache = ModelCache.of(fashion)
    targets = as_expressions(["conv2:3", "conv2:5"])
    fresh = data_best(fashion, items, targets, 28, cache)
    again = data_best(fashion, items, targets, 28, cache)
    other_channels = data_best(fashion, items, as_expressions(["conv2:9", "-conv2:60"]), 28, cache)  # stored with their layer
    assert len(passes) == 1
    assert again == fresh == data_best(fashion, items, targets, 28)  # the last one: no cache, a fresh pass
    assert other_channels == data_best(fashion, items, as_expressions(["conv2:9", "-conv2:60"]), 28)


def test_changed_weights_miss_the_cache(fashion, items, passes, one_thread):
    targets = as_expressions(["relu2:7"])
    before = data_best(fashion, items, targets, 28, ModelCache.of(fashion))
    module = copy.deepcopy(fashion.module)
    with torch.no_grad():
        module.conv2.bias[7] += 1.0
    changed = LoadedModel(module, fashion.spec, 28, 1, fashion.mean, fashion.std)
    after = data_best(changed, items, targets, 28, ModelCache.of(changed))
    assert len(passes) == 2
    assert after[targets[0]].value > before[targets[0]].value + 0.5


def test_a_corrupt_cache_file_is_ignored_and_written_again(fashion, items, passes, one_thread):
    cache = ModelCache.of(fashion)
    targets = as_expressions(["relu1:3"])
    fresh = data_best(fashion, items, targets, 28, cache)
    path = cache.path(CACHE_NAME, cache_key(fashion, items, 28))
    path.write_text(path.read_text()[:40])
    assert data_best(fashion, items, targets, 28, cache) == fresh
    assert data_best(fashion, items, targets, 28, cache) == fresh
    assert len(passes) == 2  # the first call, and the one that met the corrupt file


def test_direction_units_are_computed_together_exactly_and_never_cached(fashion, items, one_thread, tmp_path):
    """Many `dir=` units of one layer take one product per batch (the activation atlas renders hundreds): each equals its
    own direct maximum, and none is stored, since a file's content may change under its name."""
    import numpy as np

    rows = np.random.default_rng(0).standard_normal((5, 128)).astype(np.float32)
    paths = [tmp_path / f"d{i}.npy" for i in range(5)]
    for path, row in zip(paths, rows):
        np.save(path, row)
    targets = as_expressions([f"conv3:dir={path}" for path in paths] + [f"-conv3:dir={paths[0]}"])
    cache = ModelCache.of(fashion)
    found = data_best(fashion, items, targets, 28, cache)
    images = items.images.float()[:, :1] / 255
    means = capture_activations(fashion.module, fashion.normalize(images), ["conv3"])["conv3"].mean((2, 3))
    for target, row in zip(targets, rows):
        values = means @ torch.as_tensor(row / np.linalg.norm(row))
        assert found[target].value == pytest.approx(float(values.max()), abs=1e-4) and found[target].index == int(values.argmax())
    first = means @ torch.as_tensor(rows[0] / np.linalg.norm(rows[0]))
    assert found[targets[5]].value == pytest.approx(-float(first.min()), abs=1e-4)
    stored = cache.read(CACHE_NAME, cache_key(fashion, items, 28)) or {"best": {}}
    assert not any("dir=" in text for text in stored["best"])
