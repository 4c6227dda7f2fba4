"""Objective terms compose as in Lucid: the priors and diversity are terms, and a term a user writes in Python joins
them (`RenderSettings.terms`, `fl.render(..., terms=[...])`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.settings import RenderSettings
from featurelens.rendering.terms import Diversity


class Brightness:
    """Rewards (weight < 0) or penalizes (weight > 0) the mean pixel."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def layers(self, objective):
        return ()

    def __call__(self, images, activations, objective):
        return self.weight * images.mean((1, 2, 3))


class LayerEnergy:
    """Penalizes a layer the units do not read: the term's layer must be captured for it."""

    def layers(self, objective):
        return ("conv1",)

    def __call__(self, images, activations, objective):
        return 10.0 * activations["conv1"].pow(2).mean((1, 2, 3))


def test_the_built_in_terms_come_first_and_only_when_weighted() -> None:
    assert RenderSettings().objective_terms() == []
    priors = Regularizers(tv=0.5)
    mine = Brightness(1.0)
    terms = RenderSettings(regularizers=priors, diversity=100.0, terms=(mine,)).objective_terms()
    assert terms == [priors, Diversity(100.0), mine]


def test_a_users_term_changes_the_image_in_its_direction(fashion) -> None:
    plain = fl.render(fashion, "conv3:5", steps=24, seed=0, data="photos", retry=False, progress=False)
    darker = fl.render(fashion, "conv3:5", steps=24, seed=0, data="photos", retry=False, progress=False, terms=[Brightness(50.0)])
    brighter = fl.render(fashion, "conv3:5", steps=24, seed=0, data="photos", retry=False, progress=False, terms=[Brightness(-50.0)])
    means = [float(np.asarray(r.images, dtype=np.float64).mean()) for r in (darker, plain, brighter)]
    assert means[0] + 5 < means[1] < means[2] - 5, means


def test_a_term_reads_a_layer_the_units_do_not(fashion) -> None:
    plain = fl.render(fashion, "conv3:5", steps=24, seed=0, data="photos", retry=False, progress=False)
    quiet = fl.render(fashion, "conv3:5", steps=24, seed=0, data="photos", retry=False, progress=False, terms=[LayerEnergy()])

    def conv1_energy(result) -> float:
        images = torch.from_numpy(np.asarray(result.images)).permute(0, 3, 1, 2).float() / 255
        out = {}
        handle = dict(fashion.module.named_modules())["conv1"].register_forward_hook(lambda m, i, o: out.setdefault("a", o))
        with torch.no_grad():
            fashion.module(fashion.normalize(images))
        handle.remove()
        return float(out["a"].pow(2).mean())

    assert conv1_energy(quiet) < conv1_energy(plain)


def test_something_that_is_not_a_term_is_refused_in_one_line(fashion) -> None:
    with pytest.raises(fl.FeaturelensError, match=r"^terms 0.5 is not an objective term: give objects with layers\(objective\)"):
        fl.render(fashion, "conv3:5", steps=2, progress=False, terms=[0.5])


def test_terms_on_an_audio_models_render_are_refused_in_one_line(music_cnn) -> None:
    with pytest.raises(fl.FeaturelensError, match=r"^terms is not available for an audio model's render$"):
        fl.render(music_cnn, "conv3:5", steps=2, progress=False, terms=[Brightness(1.0)])


def test_bfloat16_steps_on_an_audio_models_render_are_refused_in_one_line(music_cnn) -> None:
    """The sound loop has no autocast: a precision it would ignore is refused, not silently dropped."""
    with pytest.raises(fl.FeaturelensError, match=r"^precision is not available for an audio model's render$"):
        fl.render(music_cnn, "conv3:5", steps=2, progress=False, precision="bfloat16")
