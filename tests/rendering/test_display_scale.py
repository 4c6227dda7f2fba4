"""Renders hold at the sizes they are shown at: a 224 px image keeps its activation when shown at 128 px, a 128 px image
when shown at the model's 224 px (#17)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import featurelens as fl
from featurelens.rendering import RobustnessTransform
from featurelens.rendering.transforms import LUCID_SCALES


def test_large_images_are_optimised_across_the_display_scales() -> None:
    wide = RobustnessTransform().spanning(224, 224).scales
    assert wide[0] == pytest.approx(128 / 224 * 1.15, abs=1e-3) and wide[-1] == pytest.approx(1.1)
    assert all(b > a for a, b in zip(wide, wide[1:]))
    assert RobustnessTransform().spanning(128, 128) == RobustnessTransform()  # shown at its own size only: Lucid's
    assert RobustnessTransform().spanning(28, 28).scales == LUCID_SCALES
    assert RobustnessTransform(span_display=False).spanning(224, 224).scales == LUCID_SCALES
    assert RobustnessTransform(scales=(0.5, 1.3)).spanning(224, 224).scales[::10] == (0.5, 1.3)  # already wider: kept


def test_small_images_shown_larger_zoom_in_across_the_ratio_and_roam() -> None:
    zoom = RobustnessTransform().spanning(128, 224)
    assert zoom.scales[0] == pytest.approx(1.1) and zoom.scales[-1] == pytest.approx(1.1 * 224 / 128, abs=1e-3)
    assert zoom.roam and not RobustnessTransform().spanning(224, 224).roam
    assert RobustnessTransform(span_display=False).spanning(128, 224) == RobustnessTransform(span_display=False)


def test_a_roaming_zoom_reaches_the_corners_of_the_image() -> None:
    """Zoomed in 1.9×, a crop within the jitter sees the middle only; roaming, every part of the image is seen."""
    images = torch.zeros(64, 1, 128, 128)
    images[..., :16, :16] = 1.0  # a bright corner
    generator = torch.Generator().manual_seed(0)
    fixed = RobustnessTransform(scales=(1.9,), angles=(0,))
    assert float(fixed(images, generator).max()) < 0.01  # the corner is never seen
    assert float(replace(fixed, roam=True)(images, generator).amax(dim=(1, 2, 3)).max()) > 0.9


def test_a_224_px_render_is_as_strong_shown_at_128_px_and_render_json_says_so(lite0) -> None:
    result = fl.render(lite0, "_blocks.10:0..1", steps=48, progress=False, data=None)
    rows = result.summary()["units"]
    assert [row["size"] for row in rows] == [224, 224]  # the field spans the input: auto size is the model's
    ratios = [row["activation_at"]["128"] / row["activation_at"]["224"] for row in rows]
    assert all(row["activation_at"]["224"] == row["activation"] for row in rows)
    assert 0.8 <= float(np.median(ratios)) <= 1.25, ratios


def test_a_128_px_render_is_as_strong_shown_at_the_models_224_px(lite0) -> None:
    result = fl.render(lite0, "_blocks.8:0..1", steps=48, progress=False, data=None)
    rows = result.summary()["units"]
    assert [row["size"] for row in rows] == [128, 128]  # auto size for a block whose field is smaller than the input
    ratios = [row["activation_at"]["224"] / row["activation"] for row in rows]
    assert 0.75 <= float(np.median(ratios)) <= 1.25, ratios  # 0.48 with Lucid's scales
