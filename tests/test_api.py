"""One call shape for every technique: the same input forms, a unit or a list, the same result core, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import featurelens as fl
from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.errors import FeaturelensError

pytestmark = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="module")
def items() -> torch.Tensor:
    """Four real Fashion-MNIST test images, [4, 1, 28, 28] in [0, 1] (exact multiples of 1/255)."""
    images, _ = load_fashion_mnist("test")
    return images[:4].float()[:, None] / 255


@pytest.fixture(scope="module")
def item_files(items, tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("items")
    paths = []
    for i, image in enumerate(items):
        path = folder / f"item{i}.png"
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def forms(items: torch.Tensor, files: list) -> dict:
    """The same first image (or the first two) in every input form the API takes."""
    picture = (items[0, 0].numpy() * 255).round().astype(np.uint8)
    return {
        "path": files[0],
        "path-string": str(files[0]),
        "PIL": Image.open(files[0]),
        "[C,H,W]": items[0],
        "[B,C,H,W]": items[:1],
        "uint8 picture": picture,
        "uint8 pictures": picture[None, :, :, None],
        "list of paths": [files[0]],
    }


FORMS = ["path", "path-string", "PIL", "[C,H,W]", "[B,C,H,W]", "uint8 picture", "uint8 pictures", "list of paths"]


@pytest.mark.parametrize("form", FORMS)
def test_every_image_form_gives_the_same_projection_decode_and_dream(fashion, items, item_files, form) -> None:
    given = forms(items, item_files)[form]
    reference = fl.project(fashion, items[:1], "conv3:5")
    projected = fl.project(fashion, given, "conv3:5")
    assert projected.arrays.shape == (1, 1, 28, 28)
    assert np.allclose(projected.arrays, reference.arrays, atol=1e-6) and projected.units == reference.units
    decoded = fl.invert.decode(fashion, given, "pool2:3")
    assert torch.allclose(decoded.reconstructions, fl.invert.decode(fashion, items[:1], "pool2:3").reconstructions)
    dreamed = fl.dream(fashion, given, "relu2", octaves=1, steps=2)
    assert dreamed.images.shape == (1, 28, 28, 1)
    assert np.array_equal(dreamed.images, fl.dream(fashion, items[:1], "relu2", octaves=1, steps=2).images)


def test_a_spec_and_a_loaded_model_give_the_same_results(fashion, items) -> None:
    by_spec = fl.project("fashion-cnn", items, "relu3:7", device="cpu")
    by_model = fl.project(fashion, items, "relu3:7")
    assert np.allclose(by_spec.arrays, by_model.arrays, atol=1e-6)
    rendered = fl.render("fashion-cnn", "conv3:1", size=28, steps=8, device="cpu")
    assert np.array_equal(rendered.images, fl.render(fashion, ["conv3:1"], size=28, steps=8).images)


def test_one_unit_or_a_list_or_a_range(fashion, items) -> None:
    assert fl.render(fashion, "conv3:2..4", size=28, steps=2).images.shape == (3, 28, 28, 1)
    single = fl.project(fashion, items[0], "relu2:7")
    listed = fl.project(fashion, items[0], ["relu2:7"])
    assert np.array_equal(single.arrays, listed.arrays)
    decoded = fl.invert.decode(fashion, items[0], ["pool2", "pool2:5", "pool2:5@3,3"])
    assert decoded.units == ["pool2", "pool2:5", "pool2:5@3,3"] and decoded.images.shape == (3, 28, 28, 1)


def test_project_on_a_batch_equals_the_per_image_results(fashion, items) -> None:
    units = ["relu3:83", "conv2:17@4,5", "pool3:3", "logit:7"]
    for method in ("deconvnet", "guided", "gradient"):
        batch = fl.project(fashion, items, units, method)  # image i with unit i
        assert batch.arrays.shape == (4, 1, 28, 28) and batch.image_index.tolist() == [0, 1, 2, 3]
        for i, unit in enumerate(units):
            single = fl.project(fashion, items[i], unit, method)
            assert single.unit == batch.units[i] and single.activation == pytest.approx(float(batch.activations[i]), abs=1e-5)
            assert np.abs(batch.arrays[i] - single.array).max() <= 1e-5 * max(np.abs(single.array).max(), 1e-12)
    many = fl.project(fashion, items[2], units)  # one image, many units: one forward, a backward each
    for i, unit in enumerate(units):
        assert np.abs(many.arrays[i] - fl.project(fashion, items[2], unit).array).max() < 1e-5
    shared = fl.project(fashion, items, "conv3:9")  # one unit for every image
    assert shared.units[0].startswith("conv3:9@") and len(shared) == 4
    for i in range(4):
        assert np.abs(shared.arrays[i] - fl.project(fashion, items[i], "conv3:9").array).max() < 1e-5


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.rand(2, 28, 28), "do not fit a model with 1 input channel"),
        (torch.rand(3, 28, 28), "do not fit a model with 1 input channel"),
        (torch.rand(1, 1, 1, 28, 28), "do not fit a model with 1 input channel"),
        (torch.rand(28, 28), "do not fit a model with 1 input channel"),
        (torch.rand(1, 1, 28, 28) * 255, "give pixels in [0, 1]"),
        (torch.rand(1, 1, 8, 8), "below the minimum input size 28"),
        ([torch.rand(1, 28, 28), torch.rand(1, 32, 32)], "differ in size"),
        ({"image": 1}, "cannot read images from a dict"),
    ],
)
def test_wrong_inputs_are_one_line_errors(fashion, images, message) -> None:
    for call in (lambda: fl.project(fashion, images, "conv3:1"), lambda: fl.dream(fashion, images, octaves=1, steps=1)):
        with pytest.raises(FeaturelensError) as caught:
            call()
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_inverter_rejects_a_tensor_of_another_size(fashion) -> None:
    with pytest.raises(FeaturelensError, match="have the wrong size: this needs 28×28") as caught:
        fl.invert.decode(fashion, torch.rand(1, 1, 32, 32), "pool2:5")
    assert "\n" not in str(caught.value)


def test_units_and_images_must_pair_up(fashion, items) -> None:
    with pytest.raises(FeaturelensError, match="got 4 images and 3 units"):
        fl.project(fashion, items, ["conv3:1", "conv3:2", "conv3:3"])
    with pytest.raises(FeaturelensError, match="projection takes one unit or layer at a time"):
        fl.project(fashion, items, "conv3:1+conv3:2")


def test_every_result_has_the_same_core(fashion, items, tmp_path) -> None:
    results = {
        "render": fl.render(fashion, ["conv3:1", "conv3:2"], size=28, steps=4),
        "examples": fl.examples(fashion, "fashion-mnist:test", ["conv3"], k=2, limit=64),
        "project": fl.project(fashion, items, "conv3:1"),
        "dream": fl.dream(fashion, items[:2], "relu2", octaves=1, steps=2),
        "decode": fl.invert.decode(fashion, items, "pool2:1"),
        "train": fl.invert.train(fashion, "pool3", "fashion-mnist:test", epochs=1, limit=64, width=8),
        "overview": fl.overview(fashion, "conv1", units_per_layer=2, size=28, steps=2),
    }
    for name, result in results.items():
        images = result.images
        assert isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 4 and len(images), name
        assert images.shape[-1] in (1, 3), name
        json.dumps(result.summary())  # JSON-ready
        assert isinstance(result.seconds, float) and result.seconds > 0, name
        assert result.interrupted is False, name
        target = tmp_path / name / ("out.pt" if name == "train" else "out")
        written = result.save(target)
        assert written.exists(), name
        assert result._repr_png_().startswith(b"\x89PNG"), name


def test_progress_has_one_shape_everywhere(fashion, items) -> None:
    for call in (
        lambda p: fl.render(fashion, "conv3:1", size=28, steps=3, progress=p),
        lambda p: fl.examples(fashion, "fashion-mnist:test", "conv3", limit=100, batch_size=50, progress=p),
        lambda p: fl.project(fashion, items, "conv3:1", progress=p),
        lambda p: fl.dream(fashion, items[0], "relu2", octaves=2, steps=2, progress=p),
        lambda p: fl.invert.train(fashion, "pool3", "fashion-mnist:test", epochs=1, limit=64, batch_size=32, width=8, progress=p),
        lambda p: fl.overview(fashion, "conv1", units_per_layer=2, size=28, steps=2, progress=p),
    ):
        seen: list[tuple[int, int]] = []
        call(lambda done, total: seen.append((done, total)))
        assert seen and seen[-1][0] == seen[-1][1] > 0
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_list_models_names_the_built_in_specs_and_each_loads() -> None:
    import featurelens as fl

    names = fl.list_models()
    assert {"efficientnet-lite0", "fashion-cnn", "fashion-cnn-seed1", "fashion-vit", "music-cnn"} <= set(names)
    assert fl.load_model("fashion-vit").spec == "fashion-vit"


def test_the_package_has_one_version_number() -> None:
    import tomllib
    from pathlib import Path

    import featurelens as fl

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    assert fl.__version__ == project["version"]
