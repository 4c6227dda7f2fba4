"""`--project`: each top example's projection, taken at the position that ranked it (Zeiler & Fergus Fig. 2)."""

import re

import numpy as np
import pytest
import torch

from featurelens.dataset_examples import collect_examples
from featurelens.dataset_examples.projections import example_projections
from featurelens.projection import project_batch, projection_picture



@pytest.fixture(scope="module")
def conv3_examples(fashion):
    from featurelens.data.fashion_mnist import load_fashion_mnist

    images, _ = load_fashion_mnist("test")
    return collect_examples(fashion, [img.numpy() for img in images[:96]], ["conv3"], k=3, batch_size=32)


def test_every_top_example_gets_its_own_projection_cropped_to_its_receptive_field(fashion, fashion_data, conv3_examples):
    projections = example_projections(fashion, conv3_examples, "deconvnet")
    layer = conv3_examples.layer("conv3")
    assert len(projections) == layer.channels * 3
    for (name, channel, kind, rank), picture in list(projections.items())[::17]:
        x0, y0, x1, y1 = layer.box(kind, channel, rank - 1)
        assert kind == "max" and picture.shape == (y1 - y0, x1 - x0, 1) and picture.dtype == np.uint8
        row = next(r for r in conv3_examples.examples() if (r.layer, r.channel, r.kind, r.rank) == (name, channel, kind, rank))
        image = torch.from_numpy(conv3_examples.image(row.index)).permute(2, 0, 1)[None].float() / 255
        raw = project_batch(fashion, image, "conv3", [channel], torch.tensor([[row.y, row.x]]), "deconvnet")[0]
        outside = raw.copy()
        outside[:, y0:y1, x0:x1] = 0
        assert np.abs(outside).max() == 0  # the crop loses nothing: the unit sees no pixel outside it
        if layer.ranked["max"].scores[channel, rank - 1] > 0:
            assert picture.std() > 0


def test_batched_projections_equal_one_at_a_time(fashion, fashion_data, conv3_examples):
    projections = example_projections(fashion, conv3_examples, "guided", batch_size=7)
    row = next(r for r in conv3_examples.examples() if r.kind == "max" and r.channel == 5 and r.rank == 2)
    image = torch.from_numpy(conv3_examples.image(row.index)).permute(2, 0, 1)[None].float() / 255
    single = project_batch(fashion, image, "conv3", [5], torch.tensor([[row.y, row.x]]), "guided")[0]
    x0, y0, x1, y1 = row.box
    expected = projection_picture(single)[y0:y1, x0:x1].astype(int)
    assert np.abs(projections[("conv3", 5, "max", 2)].astype(int) - expected).max() <= 1


def test_pages_show_the_projection_beside_each_crop(featurelens_cli, fashion_data, tmp_path):
    done = featurelens_cli("examples", "--data", "fashion-mnist:test", "--limit", "64", "--layers", "conv2", "--k", "2",
                           "--model", "fashion-cnn", "--project", "deconvnet", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "layer-conv2.html").read_text()
    shown = re.findall(r'src="(projections/[^"]+)"', page)
    assert len(shown) == 64 * 2  # every channel's top-2
    assert all((tmp_path / path).is_file() for path in shown)
    bad = featurelens_cli("examples", "--data", "fashion-mnist:test", "--layers", "conv2", "--model", "fashion-cnn",
                          "--project", "deconv", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "unknown projection method 'deconv'" in bad.stderr
