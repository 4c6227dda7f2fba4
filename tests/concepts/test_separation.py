"""AUC, thresholds and the probe against hand computations and closed-form cases."""

from __future__ import annotations

import numpy as np

from featurelens.concepts.probe import fit_probe
from featurelens.concepts.separation import best_thresholds, roc_auc


def test_auc_matches_a_hand_count_of_pairs_with_ties_counting_half() -> None:
    positives = np.array([[3.0], [1.0], [2.0]])
    negatives = np.array([[0.0], [2.0]])
    # Pairs (positive, negative): (3,0) win, (3,2) win, (1,0) win, (1,2) loss, (2,0) win, (2,2) tie → 4.5 / 6.
    assert roc_auc(positives, negatives)[0] == 0.75


def test_auc_is_computed_per_column_and_reads_below_half_for_a_unit_that_fires_less() -> None:
    positives = np.array([[5.0, 0.0], [6.0, 1.0]])
    negatives = np.array([[1.0, 7.0], [2.0, 8.0], [3.0, 9.0]])
    assert roc_auc(positives, negatives).tolist() == [1.0, 0.0]


def test_auc_equals_a_brute_force_count_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    positives, negatives = rng.integers(0, 5, (13, 4)).astype(float), rng.integers(0, 5, (17, 4)).astype(float)
    pairs = (positives[:, None, :] > negatives[None]).mean((0, 1)) + 0.5 * (positives[:, None, :] == negatives[None]).mean((0, 1))
    np.testing.assert_allclose(roc_auc(positives, negatives), pairs)


def test_the_best_threshold_separates_and_reports_balanced_accuracy() -> None:
    positives = np.array([[4.0, -4.0], [5.0, -5.0]])
    negatives = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.5, 0.0]])
    cut = best_thresholds(positives, negatives)
    # Column 0: a cut at 3.5 gets both positives and 3 of 4 negatives: (1 + 0.75) / 2; no cut does better.
    assert cut.value[0] == 3.5 and cut.accuracy[0] == 0.875 and cut.above[0]
    # Column 1: the concept is below; the cut midway between -4 and 0 separates all.
    assert cut.value[1] == -2.0 and cut.accuracy[1] == 1.0 and not cut.above[1]


def test_the_probe_finds_the_direction_that_separates_and_the_same_seed_gives_the_same_one() -> None:
    rng = np.random.default_rng(1)
    truth = np.array([1.0, -2.0, 0.0, 0.0, 0.5])
    inputs = rng.normal(size=(400, 5)) * np.array([1.0, 1.0, 3.0, 0.1, 1.0]) + 2.0
    labels = inputs @ truth + rng.normal(scale=0.3, size=400) > (2.0 * truth).sum()
    probe = fit_probe(inputs[labels], inputs[~labels], seed=3)
    cosine = probe.direction @ truth / np.linalg.norm(truth)
    assert cosine > 0.95
    assert probe.held_out_auc is not None and probe.held_out_auc > 0.95
    np.testing.assert_array_equal(probe.scores(inputs[:3]), inputs[:3].astype(np.float64) @ probe.weight + probe.bias)
    again = fit_probe(inputs[labels], inputs[~labels], seed=3)
    np.testing.assert_array_equal(again.weight, probe.weight)
