"""Learning a dictionary on the real Fashion-MNIST CNN: every method rebuilds the layer far better than its mean, a
seed gives the same bytes, and a run stopped by Ctrl-C continues from its checkpoint to those same bytes."""

from __future__ import annotations

import pytest
import torch

from featurelens.dictionary.api import DictionarySettings, learn_dictionary, plan_dictionary
from featurelens.dictionary.file import load_dictionary

SMALL = dict(features=256, k=8, batch_rows=1024, limit=1000, eval_limit=500, purity=False)


@pytest.mark.parametrize("method", ["topk", "batchtopk", "archetypal"])
def test_each_method_rebuilds_the_layer_far_better_than_its_mean(fashion, one_thread, method) -> None:
    result = learn_dictionary(fashion, "fashion-mnist:train", "conv3", method=method, steps=60, progress=False, **SMALL)
    metrics, dictionary = result.metrics, result.dictionary
    assert metrics.fve > 0.5  # the mean alone explains 0
    assert metrics.l0 <= 8.5 and metrics.dead < 0.2
    assert metrics.agreement > 0.7 and metrics.accuracy_replaced > 0.6
    assert dictionary.metrics["fve"] == metrics.fve and dictionary.settings["method"] == method
    if method == "batchtopk":
        assert dictionary.threshold is not None and dictionary.threshold > 0


def test_a_seed_gives_the_same_bytes_and_a_resumed_run_the_same_result(fashion, one_thread, tmp_path) -> None:
    def learn(seed: int, out: str, stop_at: int | None = None):
        settings = DictionarySettings(**SMALL, steps=8, checkpoint=tmp_path / f"{out}.checkpoint", checkpoint_every=3)
        plan = plan_dictionary(fashion, "fashion-mnist:train", "conv3", settings, seed=seed)

        def progress(done, total):
            if done == stop_at:
                raise KeyboardInterrupt

        result = plan.run(progress if stop_at else None)
        if not result.interrupted:
            result.save(tmp_path / out / "dictionary.pt")  # one file name: torch writes it into the archive
        return result, plan

    learn(0, "first")
    learn(0, "again")
    learn(1, "other")
    first = (tmp_path / "first/dictionary.pt").read_bytes()
    assert first == (tmp_path / "again/dictionary.pt").read_bytes()
    assert first != (tmp_path / "other/dictionary.pt").read_bytes()

    stopped, _ = learn(0, "resumed", stop_at=5)
    assert stopped.interrupted and stopped.steps == 5 and (tmp_path / "resumed.checkpoint").is_file()
    finished, plan = learn(0, "resumed")
    assert any("resuming" in note and "5 of 8" in note for note in plan.notes)
    assert not finished.interrupted and not (tmp_path / "resumed.checkpoint").exists()
    assert (tmp_path / "resumed/dictionary.pt").read_bytes() == first
    assert load_dictionary(tmp_path / "resumed/dictionary.pt").settings["seed"] == 0


def test_the_closed_form_keeps_the_anchor_directions_and_sets_the_rest_for_reconstruction(fashion, one_thread) -> None:
    """Purity ranks by direction only: the closed form's directions are those of anchored training without relaxation
    (the archetypes), while its gains, biases and least-squares decoder rebuild the layer better, with no feature dead."""
    anchored = dict(SMALL, method="topk", anchored=True, eval_limit=300)
    closed = learn_dictionary(fashion, "fashion-mnist:train", "conv3", closed_form=True, steps=8, progress=False, **anchored)
    again = learn_dictionary(fashion, "fashion-mnist:train", "conv3", closed_form=True, steps=8, progress=False, **anchored)
    trained = learn_dictionary(fashion, "fashion-mnist:train", "conv3", steps=8, progress=False, **anchored)
    directions = closed.dictionary.unit_map()[0]
    assert torch.allclose(directions, trained.dictionary.unit_map()[0], atol=1e-4)
    assert torch.equal(closed.dictionary.decoder_weight, again.dictionary.decoder_weight)
    assert closed.metrics.dead == 0.0 and closed.metrics.l0 == 8
    assert closed.metrics.fve > trained.metrics.fve and closed.metrics.fve > 0.6
