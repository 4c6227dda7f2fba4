"""Dictionary features are units: `conv3/pca:f` answers every verb as the direction written out by hand does.

A feature's value is `u_f · x + offset_f` at each position of conv3 (`featurelens.dictionary.file`), so its examples
rank as the direction `u_f`, its render is the render of `conv3:dir=u_f.npy` (the offset has no gradient), and its
projection is the gradient of `u_f · x` at its position."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dictionary import Dictionary, attach_dictionary, detach_dictionary, load_dictionary
from featurelens.errors import FeaturelensError
from featurelens.live import LiveOptions, LiveSession
from featurelens.live.session import scaled_maps
from featurelens.models import model_for
from featurelens.atlas.files import record_path
from featurelens.photos import photo_batch
from tests.dictionary.conftest import principal_directions

FEATURE = 2
LIMIT = 1500


@pytest.fixture
def model(pca_dictionary_file):
    """fashion-cnn with the dictionary attached (a fresh model: its hooks stay with it)."""
    return model_for("fashion-cnn", "cpu", dictionaries=[pca_dictionary_file])


@pytest.fixture(scope="module")
def test_images():
    images, labels = load_fashion_mnist("test")
    return images[:LIMIT, None].float() / 255, labels[:LIMIT]


def direction_values(model, images: torch.Tensor, dictionary, feature: int) -> torch.Tensor:
    """[N, 7, 7]: the layer projected on the feature's direction by hand (no dictionary code)."""
    with torch.no_grad():
        conv3 = capture_activations(model.module, model.normalize(images), ["conv3"])["conv3"]
    return torch.einsum("c,nchw->nhw", dictionary.direction(feature), conv3)


def test_the_layer_is_listed_and_its_values_are_the_directions_plus_offsets(model, pca_dictionary_file, test_images, main_cli) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    images = test_images[0][:64]
    with torch.no_grad():
        found = capture_activations(model.module, model.normalize(images), ["conv3/pca", "conv3"])
    directions, offsets = dictionary.unit_map()
    expected = torch.einsum("fc,nchw->nfhw", directions, found["conv3"]) + offsets.view(1, -1, 1, 1)
    assert found["conv3/pca"].shape == (64, 16, 7, 7)
    assert torch.allclose(found["conv3/pca"], expected, atol=1e-4)
    code, err = main_cli("layers", "-m", "fashion-cnn", "--dictionary", str(pca_dictionary_file), "--json")
    layers = {row["name"]: row for row in json.loads(main_cli.out)}
    assert code == 0, err
    assert layers["conv3/pca"]["channels"] == 16 and layers["conv3/pca"]["layout"] == "map 7×7"


def test_examples_of_a_feature_rank_as_its_direction(model, pca_dictionary_file, test_images) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    images, _ = test_images
    result = fl.examples(model, images, "conv3/pca", k=9, progress=False)
    ranked = result.layers[0].ranked["max"]
    by_hand = direction_values(model, images, dictionary, FEATURE).flatten(1).amax(1)
    assert ranked.indices[FEATURE].tolist() == by_hand.topk(9).indices.tolist()
    offset = float(dictionary.unit_map()[1][FEATURE])
    assert np.allclose(ranked.scores[FEATURE], (by_hand.topk(9).values + offset).numpy(), atol=1e-3)


def test_a_feature_renders_as_its_direction(model, pca_dictionary_file, tmp_path) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    vector = tmp_path / "u.npy"
    np.save(vector, dictionary.direction(FEATURE).numpy())
    settings = dict(steps=24, seed=3, progress=False, data=None)
    feature = fl.render(model, f"conv3/pca:{FEATURE}", **settings)
    direction = fl.render(model, f"conv3:dir={vector}", **settings)
    difference = np.abs(feature.images.astype(int) - direction.images.astype(int))
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 4  # the same image, up to float rounding
    offset = float(dictionary.unit_map()[1][FEATURE])
    assert feature.units[0].activation == pytest.approx(direction.units[0].activation + offset, abs=0.05)


@pytest.mark.parametrize("method", ["gradient", "guided", "deconvnet"])
def test_a_feature_projects_as_the_gradient_of_its_direction(model, pca_dictionary_file, test_images, method) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    image = test_images[0][3:4]
    result = fl.project(model, image, f"conv3/pca:{FEATURE}", method=method, progress=False)
    y, x = result.positions[0]
    values = direction_values(model, image, dictionary, FEATURE)[0]
    assert (y, x) == divmod(int(values.argmax()), values.shape[1])  # its strongest position
    if method != "gradient":
        assert np.abs(result.arrays).sum() > 0
        return
    inputs = model.normalize(image).requires_grad_(True)
    conv3 = capture_activations(model.module, inputs, ["conv3"])["conv3"]
    (dictionary.direction(FEATURE) @ conv3[0, :, y, x]).backward()
    assert np.allclose(result.arrays[0], inputs.grad[0].numpy(), atol=1e-5)


def test_dream_overview_and_errors_take_features(model, pca_dictionary_file, test_images) -> None:
    image = test_images[0][:1]
    dreamt = fl.dream(model, image, f"conv3/pca:{FEATURE}", steps=6, octaves=1, progress=False)
    before = fl.project(model, image, f"conv3/pca:{FEATURE}", method="gradient", progress=False).activations[0]
    after = fl.project(model, torch.from_numpy(dreamt.images[0]).permute(2, 0, 1)[None].float() / 255,
                       f"conv3/pca:{FEATURE}", method="gradient", progress=False).activations[0]
    assert after > before  # dreaming on a feature raises it
    overview = fl.overview(model, ["conv3/pca"], units_per_layer=3, steps=8, progress=False)
    assert [unit.unit for unit in overview.layers[0].result.units] == ["conv3/pca:0", "conv3/pca:1", "conv3/pca:2"]
    with pytest.raises(FeaturelensError, match=r"valid channels are 0\.\.15"):
        fl.render(model, "conv3/pca:16", steps=2, progress=False)
    with pytest.raises(FeaturelensError, match="not found"):
        model_for("fashion-cnn", "cpu", dictionaries=["missing.pt"])


def test_the_atlas_pages_a_feature_with_its_directions_examples(model, pca_dictionary_file, test_images, tmp_path) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    result = fl.atlas(model, "fashion-mnist:test", ["conv3/pca"], units=FEATURE + 1, steps=8, diverse=0, project=None,
                      limit=LIMIT, out=tmp_path / "atlas", progress=False)
    assert not result.interrupted
    record = json.loads((tmp_path / "atlas" / record_path("conv3/pca", FEATURE)).read_text())
    by_hand = direction_values(model, test_images[0], dictionary, FEATURE).flatten(1).amax(1).topk(9).indices.tolist()
    assert [int(example["item"]) for example in record["examples"]["max"]] == by_hand
    page = (tmp_path / "atlas" / record["page"]).read_text()
    assert f"conv3/pca:{FEATURE}" in page and (tmp_path / "atlas" / record["renders"]["max"]).is_file()


def test_the_live_session_shows_features_and_why_by_features(model, pca_dictionary_file, test_images) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    session = LiveSession(model)
    image = test_images[0][:1]
    assert "conv3/pca" in session.grid_layers
    with torch.no_grad():
        conv3 = capture_activations(model.module, model.normalize(image), ["conv3"])["conv3"]
    directions, offsets = dictionary.unit_map()
    values = torch.einsum("fc,nchw->nfhw", directions, conv3) + offsets.view(1, -1, 1, 1)
    for classes in (False, True):
        frame = session.process(image, session.check(LiveOptions(layer="conv3/pca", unit=FEATURE, classes=classes, why=classes)))
        expected, _ = scaled_maps(values[0], frame.signed)
        assert np.abs(frame.maps.astype(int) - expected.astype(int)).max() <= 1
        assert frame.unit["position"] == divmod(int(values[0, FEATURE].argmax()), 7)
    top = frame.classes[0]["index"]
    inputs = model.normalize(image).requires_grad_(True)
    acts = capture_activations(model.module, inputs, ["conv3", "logit"], stop_early=False)
    (gradient,) = torch.autograd.grad(acts["logit"][0, top], acts["conv3"])
    share = (torch.einsum("fc,nchw->nfhw", directions, acts["conv3"].detach()) * torch.einsum("fc,nchw->nfhw", directions, gradient)).sum((0, 2, 3))
    assert frame.why[0]["channel"] in share.topk(2).indices.tolist()  # ±directions tie
    assert frame.why[0]["contribution"] == pytest.approx(float(share.max()), rel=1e-3)


def test_evolve_follows_a_feature_across_the_shipped_checkpoints(model, pca_dictionary_file, test_images) -> None:
    dictionary = load_dictionary(pca_dictionary_file)
    result = fl.evolve(model, test_images[0][:300], f"conv3/pca:{FEATURE}", steps=4, k=5, progress=False)
    cells = result.unit(f"conv3/pca:{FEATURE}").cells
    assert len(cells) == len(result.checkpoints) >= 5
    assert cells[-1].examples == direction_values(model, test_images[0][:300], dictionary, FEATURE).flatten(1).mean(1).topk(5).indices.tolist()  # ranked by the mean
    assert cells[0].examples != cells[-1].examples  # the direction meant something else at initialisation


def test_a_feature_renders_and_ranks_on_ray_as_it_does_here(model, ray_local, test_images) -> None:
    here = fl.render(model, f"conv3/pca:{FEATURE}", steps=8, progress=False, data=None)
    there = fl.render(model, f"conv3/pca:{FEATURE}", steps=8, progress=False, data=None, engine="ray", workers=1)
    assert np.array_equal(here.images, there.images)
    ranked_here = fl.examples(model, "fashion-mnist:test", "conv3/pca", k=5, limit=400, progress=False).layers[0].ranked["max"]
    ranked_there = fl.examples(model, "fashion-mnist:test", "conv3/pca", k=5, limit=400, progress=False, engine="ray",
                               workers=2).layers[0].ranked["max"]
    assert np.array_equal(ranked_here.indices, ranked_there.indices)  # the dictionary travels with the model to the workers


def test_a_dictionary_over_a_dotted_layer_reads_and_detaches(lite0) -> None:
    batch = lite0.normalize(photo_batch(lite0.input_size)[:4])
    with torch.no_grad():
        block = capture_activations(lite0.module, batch, ["_blocks.8"])["_blocks.8"]
    directions, _ = principal_directions(block, 4)
    name = attach_dictionary(lite0.module, Dictionary("efficientnet-lite0", "_blocks.8", "topk", 2, 1.0, directions, torch.zeros(4),
                                                      directions, torch.zeros(block.shape[1]), name="pcs"))
    try:
        assert name == "_blocks.8/pcs"
        with torch.no_grad():
            found = capture_activations(lite0.module, batch, [name])[name]
        assert torch.allclose(found, torch.einsum("fc,nchw->nfhw", directions, block), atol=1e-3)
    finally:
        detach_dictionary(lite0.module, name)
    assert name not in dict(lite0.module.named_modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in lite0.module.modules())  # the model is left as it was
