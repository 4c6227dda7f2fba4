"""Acceptance: 16 channels of a mid-depth block of the default model, rendered with the default settings."""

import statistics

import pytest

from featurelens import render

MID_BLOCK = "_blocks.8"


@pytest.fixture(scope="module")
def sixteen_channels(lite0):
    return render(lite0, [f"{MID_BLOCK}:{c}" for c in range(16)])  # defaults: 128 px, 512 steps, fft


def test_renders_reach_five_times_the_best_natural_photo(sixteen_channels):
    units = sixteen_channels.units
    assert len(units) == 16 and sixteen_channels.steps == 512
    assert all(u.natural_max > 0 for u in units)
    ratios = [u.activation / u.natural_max for u in units]
    assert statistics.median(ratios) >= 5.0, ratios


def test_renders_keep_half_their_activation_under_random_transforms(sixteen_channels):
    kept = [u.robust_activation / u.activation for u in sixteen_channels.units]
    assert statistics.mean(kept) >= 0.5, kept
