"""An atlas of the project's own vision transformer (fashion-vit), opened in a real browser from disk: its token layers
read on the 7×7 patch grid (feature units, not tokens), attention heads as units, and every page, image and link works."""

from __future__ import annotations

import json

import pytest
import torch

import featurelens as fl
from featurelens.data import fashion_mnist
from tests.atlas.test_browser import check_site


@pytest.fixture(scope="module")
def vit_atlas(tmp_path_factory):
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("vit") / "atlas"
    try:
        result = fl.atlas("fashion-vit", "fashion-mnist:test", ["blocks.1", "blocks.2.attn", "logit"], 2, steps=8, diverse=1, limit=200,
                          out=folder, progress=False)
    finally:
        torch.set_num_threads(before)
    return folder, result.summary()


def test_the_transformer_atlas_reads_features_and_heads_and_opens_in_a_browser(chromium, vit_atlas) -> None:
    folder, summary = vit_atlas
    assert summary["layers"] == {"blocks.1": 2, "blocks.2.attn": 2, "logit": 2}  # units built per layer
    manifest = json.loads((folder / "atlas.json").read_text())
    shapes = {layer["name"]: layer["shape"] for layer in manifest["layers"]}
    assert shapes["blocks.1"] == [64, 7, 7] and shapes["blocks.2.attn"] == [4, 7, 7]  # features and heads, not 50 tokens
    pages = check_site(chromium, folder)
    built = sorted((folder / "blocks.1").glob("[0-9]*.html"))
    assert built and "effective field at the extreme outlined" in built[0].read_text()  # the crop the examples show is named
    record = json.loads((folder / "blocks.1" / f"{built[0].stem}.json").read_text())
    boxes = [example["box"] for kind in ("max", "min") for example in record["examples"][kind]]
    assert boxes and any(box != [0, 0, 28, 28] for box in boxes)  # effective boxes, not the whole 28×28 input
    assert len(pages) >= 1 + 3 + 3 * 2
