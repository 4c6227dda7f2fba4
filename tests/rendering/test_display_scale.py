"""Renders hold at the size they are shown at: a 224 px image keeps its activation when shown at 128 px (#17)."""

from __future__ import annotations

import numpy as np
import pytest

import featurelens as fl
from featurelens.rendering import RobustnessTransform
from featurelens.rendering.transforms import LUCID_SCALES


def test_large_images_are_optimised_across_the_display_scales() -> None:
    wide = RobustnessTransform().spanning(224).scales
    assert wide[0] == pytest.approx(128 / 224 * 1.15, abs=1e-3) and wide[-1] == pytest.approx(1.1)
    assert all(b > a for a, b in zip(wide, wide[1:]))
    assert RobustnessTransform().spanning(128).scales == LUCID_SCALES  # at the display side: Lucid's
    assert RobustnessTransform(span_display=False).spanning(224).scales == LUCID_SCALES
    assert RobustnessTransform(scales=(0.5, 1.3)).spanning(224).scales[::10] == (0.5, 1.3)  # already wider: kept


def test_a_224_px_render_is_as_strong_shown_at_128_px_and_render_json_says_so(lite0) -> None:
    result = fl.render(lite0, "_blocks.10:0..1", steps=48, progress=False, data=None)
    rows = result.summary()["units"]
    assert [row["size"] for row in rows] == [224, 224]  # the field spans the input: auto size is the model's
    ratios = [row["activation_at"]["128"] / row["activation_at"]["224"] for row in rows]
    assert all(row["activation_at"]["224"] == row["activation"] for row in rows)
    assert 0.8 <= float(np.median(ratios)) <= 1.25, ratios
