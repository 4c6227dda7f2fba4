"""`find` on EfficientNet-Lite0 with the bundled `text` and `page` photos as positives (the Deep Visualization
Toolbox's text unit): one page shows the units it names, their renders and their top examples, in Chromium."""

from __future__ import annotations

import pytest
import skimage.data
from PIL import Image

import featurelens as fl
from featurelens.concepts.direction_unit import concept_layer
from featurelens.photos import PHOTO_NAMES

ALL_IMAGES_LOADED = "() => [...document.images].every(image => image.complete && image.naturalWidth > 0)"


@pytest.fixture(scope="module")
def text_page(lite0, tmp_path_factory):
    positives = tmp_path_factory.mktemp("text-positives")
    for name in ("text", "page"):
        Image.fromarray(getattr(skimage.data, name)()).save(positives / f"{name}.png")
    result = fl.find(lite0, "_blocks.5", positives, steps=16, size=128, units=3, k=4, progress=False)
    return result, result.save(tmp_path_factory.mktemp("text-find"))


def test_two_photos_are_widened_with_crops_and_the_photos_they_are_leave_the_negatives(text_page) -> None:
    result, _ = text_page
    assert result.positive_counts.whole == 2 and result.positive_counts.crops == 14
    assert result.negatives == "photos" and result.negative_counts.repeats == 2  # the bundled text and page themselves
    assert any("random crop" in note for note in result.notes)
    assert result.top[0].auc > 0.9
    # Ranked over the bundled photos, the direction puts text and page first.
    top = result.top_examples(concept_layer("_blocks.5"), 0)
    assert {PHOTO_NAMES[i] for i in top[:2]} == {"text", "page"}


def test_the_page_shows_every_render_and_example_and_names_the_top_unit(text_page, chromium) -> None:
    result, index = text_page
    best = result.top[0]
    page = chromium.new_page()
    try:
        page.goto(index.as_uri())
        page.wait_for_function(ALL_IMAGES_LOADED, timeout=20_000)
        images = page.eval_on_selector_all("img", "images => images.map(image => image.getAttribute('src'))")
        # Renders of 3 units and the direction, 4 examples each, the 2 positives.
        assert len([src for src in images if src.startswith("renders/")]) == 4
        assert len([src for src in images if src.startswith("inputs/")]) == 4 * 4
        first = page.locator(".card.unit").first
        assert first.locator(".unit-name").inner_text() == best.unit
        assert first.locator(".auc").inner_text() == f"{best.auc:.3f}"
        assert first.is_visible() and "random crops" in page.inner_text("body")
    finally:
        page.close()
