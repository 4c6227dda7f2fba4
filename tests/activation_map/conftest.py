"""One activation atlas of fashion-cnn's conv3 over the Fashion-MNIST test set, built once for the module's tests: 2 000
points in a 10×10 grid, renders of 16 steps, the class view for Trouser and a small dictionary placed on the map."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import featurelens.rendering.against_data as against_data
import featurelens.rendering.optimize as optimize
from featurelens.activation_map import MapResult, map_activations
from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dictionary import Dictionary

pytest.importorskip("umap", reason="pip install -e '.[map]' (scripts/install.sh does)")

ATOM_INPUTS = range(9000, 9012)  # inputs past those the map reads: their centre vectors become the dictionary's atoms


@dataclass
class BuiltMap:
    result: MapResult
    folder: object
    render_calls: int  # optimisation batches run (first renders and retries)
    atoms: np.ndarray


def centre_atoms(fashion) -> np.ndarray:
    """conv3's activation vector at the centre (3, 3) of a few test images: [12, 128]."""
    images, _ = load_fashion_mnist("test")
    batch = torch.as_tensor(np.asarray(images[list(ATOM_INPUTS)]), dtype=torch.float32)[:, None] / 255
    with torch.no_grad():
        act = capture_activations(fashion.module, fashion.normalize(batch), ["conv3"])["conv3"]
    return act[:, :, 3, 3].numpy()


def hand_made_dictionary(atoms: np.ndarray) -> Dictionary:
    weight = torch.as_tensor(atoms / np.linalg.norm(atoms, axis=1, keepdims=True))
    features, channels = weight.shape
    return Dictionary("fashion-cnn", "conv3", "topk", 2, 1.0, weight.clone(), torch.zeros(features), weight.clone(), torch.zeros(channels))


@pytest.fixture(scope="session")
def centre_dictionary(fashion) -> Dictionary:
    """A small dictionary over conv3 whose 12 atoms are real activation vectors (`centre_atoms`)."""
    return hand_made_dictionary(centre_atoms(fashion))


@pytest.fixture(scope="session")
def fashion_map(fashion, centre_dictionary, tmp_path_factory) -> BuiltMap:
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        for module in (optimize, against_data):  # every optimisation batch, first renders and retries alike
            original = module.render_chunk
            patch.setattr(module, "render_chunk", lambda *args, original=original, **kwargs: calls.append(1) or original(*args, **kwargs))
        result = map_activations(fashion, "conv3", "fashion-mnist:test", points=2000, grid=10, steps=16, class_name="Trouser",
                                 dictionary=centre_dictionary, progress=False)
    folder = tmp_path_factory.mktemp("map")
    result.save(folder)
    return BuiltMap(result, folder, len(calls), centre_dictionary.decoder_weight.numpy())
