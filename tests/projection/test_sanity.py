"""The projection sanity check (Adebayo et al. 2018) on the real models: deconvnet fails on EfficientNet-Lite0's deep
blocks (the same map for every input), guided backprop and the gradient pass; the score is deterministic for a seed,
and its controls hold (a model compared with itself, a first layer whose every projection is its filter)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurelens.photos import photo_batch
from featurelens.projection import sanity
from featurelens.projection.sanity import (
    PASS_SCORE, MethodScore, SanityResult, best_projection, choose_method, randomized_copy, rank_correlation, sanity_scores,
)


@pytest.fixture(scope="module")
def photos160() -> torch.Tensor:
    """Four bundled photos at 160 px: EfficientNet-Lite0's _blocks.15 sees them as 5×5 maps."""
    return photo_batch(160, 3)[:4]


@pytest.fixture(scope="module")
def lite0_deep(lite0, photos160) -> SanityResult:
    return sanity_scores(lite0, photos160, "_blocks.15")


def test_deconvnet_fails_on_lite0_deep_block_and_the_derivatives_pass(lite0_deep):
    scores = {s.method: s for s in lite0_deep.scores}
    assert not scores["deconvnet"].passes and scores["deconvnet"].score < PASS_SCORE
    assert scores["deconvnet"].input_correlation > 0.8  # "the same green blob for every top example"
    for method in ("guided", "gradient"):
        assert scores[method].passes and scores[method].score > scores["deconvnet"].score + 0.3
    assert lite0_deep.chosen in ("guided", "gradient") and lite0_deep.passing
    assert [s.method for s in lite0_deep.scores][-1] == "deconvnet"  # best first
    assert "deconvnet" in lite0_deep.describe() and "✗" in lite0_deep.describe()


def test_best_projection_is_the_check_s_choice(fashion, fashion_images):
    method, found = best_projection(fashion, "conv3", fashion_images)
    assert method == found.chosen and found.layer == "conv3"
    assert found.score(method).passes and found.score(method).score == max(s.score for s in found.scores)


def test_score_is_deterministic_for_a_seed_and_depends_on_it(fashion, fashion_images):
    first, again = (sanity_scores(fashion, fashion_images, "conv3").to_dict() for _ in range(2))
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    other = sanity_scores(fashion, fashion_images, "conv3", seed=7).to_dict()
    assert [s["model_correlation"] for s in other["scores"]] != [s["model_correlation"] for s in first["scores"]]


def test_randomized_copy_is_seeded_changes_every_weight_and_leaves_the_random_state(fashion):
    state = torch.random.get_rng_state()
    one, two, three = randomized_copy(fashion.module, 5), randomized_copy(fashion.module, 5), randomized_copy(fashion.module, 6)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, trained), a, b, c in zip(fashion.module.named_parameters(), one.parameters(), two.parameters(), three.parameters()):
        assert torch.equal(a, b) and not torch.equal(a, c), name
        assert not torch.allclose(a, trained), name


def test_a_model_compared_with_itself_scores_zero(fashion, fashion_images, monkeypatch):
    """The control: when the "randomised" model is the trained one, every map is the same and no method passes."""
    monkeypatch.setattr(sanity, "randomized_copy", lambda module, seed: module)
    found = sanity_scores(fashion, fashion_images, "conv3")
    for score in found.scores:
        assert score.model_correlation == pytest.approx(1.0) and score.score == pytest.approx(0.0)
        assert not score.passes
    assert not found.passing and found.chosen in ("deconvnet", "guided", "gradient")  # the best of none passing


def test_first_conv_layer_projects_its_filter_whatever_the_input(fashion, fashion_images):
    """Closed form: a unit of the first convolution projects to its (scaled) filter on every input, so no method
    depends on the input there and none passes."""
    found = sanity_scores(fashion, fashion_images, "conv1")
    for score in found.scores:
        assert score.input_correlation == pytest.approx(1.0) and score.score == pytest.approx(0.0)


def test_rank_correlation():
    rng = np.random.default_rng(0)
    a = rng.normal(size=400)
    assert rank_correlation(a, a) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(1.0)  # the same picture, inverted
    assert rank_correlation(a, np.exp(a)) == pytest.approx(1.0)  # ranks only
    assert rank_correlation(a, rng.normal(size=400)) < 0.15
    zero = np.zeros(400)
    assert rank_correlation(zero, zero) == 1.0 and rank_correlation(zero, a) == 0.0
    sparse_a, sparse_b = np.zeros(1000), np.zeros(1000)  # shared zeros do not count as agreement
    sparse_a[:50], sparse_b[:50] = rng.normal(size=50), rng.normal(size=50)
    assert rank_correlation(sparse_a, sparse_b) < 0.4


def test_choose_method_prefers_passing_then_score_then_order():
    scores = [MethodScore("deconvnet", 0.1), MethodScore("guided", 0.5), MethodScore("gradient", 0.5)]
    assert choose_method(scores) == "guided"  # a tie goes to the order of METHODS
    assert choose_method([MethodScore("deconvnet", 0.15), MethodScore("guided", 0.05)]) == "deconvnet"  # none passes: the best
    assert choose_method([MethodScore("deconvnet", None, error="TorchScript"), MethodScore("gradient", 0.4)]) == "gradient"


def test_result_round_trips_through_json(fashion, fashion_images):
    found = sanity_scores(fashion, fashion_images, "conv3")
    assert SanityResult.from_dict(found.to_dict()).to_dict() == found.to_dict()
    assert found.to_dict()["chosen"] == found.chosen and found.layer == "conv3" and found.inputs == 4
