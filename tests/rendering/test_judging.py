"""Judges: the transfer of class visualizations to other models, and the photo-likeness of any image."""

import json
import statistics
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from featurelens import load_model, render
from featurelens.rendering import judge_images
from featurelens.units import parse_units

TROUSER = parse_units("logit:1")


@pytest.fixture(scope="module")
def seed1():
    """fashion-cnn's recipe trained from another seed (scripts/train_fashion_cnn.py --seed 1)."""
    return load_model("fashion-cnn-seed1")


@pytest.fixture(scope="module")
def trouser(fashion, seed1):
    return render(fashion, "logit:Trouser", steps=128, judge=[seed1]).units[0]


def test_a_trouser_visualization_is_judged_trouser_by_a_model_trained_from_another_seed(trouser):
    judged = trouser.judged["fashion-cnn-seed1"]
    assert (judged.class_label, judged.class_index) == ("Trouser", 1)
    assert judged.rank == 1 and judged.probability > 0.5  # chance is 0.1


def test_noise_is_not_judged_trouser(fashion, seed1):
    noise = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    judged = [j["fashion-cnn-seed1"] for j in judge_images([seed1], fashion, list(noise), [TROUSER] * 8)]
    assert max(j.probability for j in judged) < 0.2
    assert all(j.rank > 1 for j in judged)


class Reversed(nn.Module):
    """A model whose classes come in the opposite order."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x).flip(1)


def test_classes_are_matched_by_name_across_models_and_by_index_without_names(fashion, trouser):
    image = [trouser.image]
    same = judge_images([fashion], fashion, image, [TROUSER])[0]["fashion-cnn"]
    flipped = replace(fashion, module=Reversed(fashion.module), spec="reversed", class_names=fashion.class_names[::-1], probes={})
    by_name = judge_images([flipped], fashion, image, [TROUSER])[0]["reversed"]
    assert (by_name.class_label, by_name.class_index) == ("Trouser", 8)
    assert by_name.probability == pytest.approx(same.probability, rel=1e-5) and by_name.rank == same.rank
    nameless = replace(flipped, spec="nameless", class_names=None, probes={})
    by_index = judge_images([nameless], fashion, image, [TROUSER])[0]["nameless"]
    assert (by_index.class_label, by_index.class_index) == ("1", 1)  # index 1 of the reversed model is "Bag"
    assert by_index.probability < by_name.probability


def test_inner_units_get_photo_distance_and_no_class_figures(fashion, seed1):
    from featurelens.photos import photo_batch

    photos = list((photo_batch(28, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
    noise = list(np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8))
    unit = parse_units("conv3:1")
    judged = [j["fashion-cnn-seed1"] for j in judge_images([seed1], fashion, photos + noise, [unit] * (len(photos) + 4))]
    assert all(j.probability is None and j.rank is None and j.class_label is None for j in judged)
    on_photos, on_noise = [j.photo_distance for j in judged[:-4]], [j.photo_distance for j in judged[-4:]]
    assert statistics.mean(on_photos) == pytest.approx(1.0, abs=0.25)  # the photos sit about one spread from their mean
    assert max(on_photos) < min(on_noise)


def test_judges_reach_render_json_and_the_contact_sheet(main_cli, tmp_path):
    code, err = main_cli("render", "--model", "fashion-cnn", "logit:Trouser", "conv3:1", "--steps", "8",
                         "--judge", "fashion-cnn-seed1,fashion-cnn", "--out", str(tmp_path))
    assert code == 0, err
    summary = json.loads((tmp_path / "render.json").read_text())
    assert summary["judges"] == ["fashion-cnn-seed1", "fashion-cnn"]
    trousers, channel = summary["units"]
    assert set(trousers["judges"]) == {"fashion-cnn-seed1", "fashion-cnn"}
    assert trousers["judges"]["fashion-cnn"]["class_label"] == "Trouser"
    assert channel["judges"]["fashion-cnn"]["probability"] is None and channel["judges"]["fashion-cnn"]["photo_distance"] > 0
    assert 0 < channel["robustness"] or channel["activation"] <= 0


def test_contact_sheet_captions_carry_a_line_per_judge(fashion, seed1):
    from featurelens.rendering.files import unit_labels

    result = render(fashion, ["logit:Trouser", "conv3:1"], steps=4, judge=["fashion-cnn", seed1])
    first, second = unit_labels(result)
    assert first.splitlines()[0] == "logit:1" and len(first.splitlines()) == 3
    assert first.splitlines()[1].startswith("fashion-cnn: ") and "#" in first.splitlines()[1]
    assert first.splitlines()[2].startswith("seed1: ")  # shortened after the rendered model's name
    assert second.splitlines()[1].startswith("fashion-cnn: d ")
