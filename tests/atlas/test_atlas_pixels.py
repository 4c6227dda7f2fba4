"""An atlas unit page read as pixels: every picture decodes and shows something (not one flat colour), as a person sees it."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from tests.atlas.test_browser import LOAD_IMAGES
from tests.server.test_live_pixels import keep_screenshot

BOXES = "imgs => imgs.map(i => { const b = i.getBoundingClientRect(); return [i.getAttribute('alt'), b.left + scrollX, b.top + scrollY, b.width, b.height]; })"


def test_every_picture_of_a_unit_page_decodes_and_is_not_blank(chromium, fashion_atlas, request) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto((fashion_atlas.folder / "conv2" / "1.html").as_uri())
    loaded = page.evaluate(LOAD_IMAGES)
    assert len(loaded) == 4 + 18 + 18 + 9 and all(width > 0 for _, width in loaded)  # every image decoded
    keep_screenshot(page, request.node.name)
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L")).astype(float)
    flat = []
    for alt, left, top, width, height in page.eval_on_selector_all("img", BOXES):
        assert width >= 32 and height >= 32, alt  # shown at a size one can see
        box = shot[round(top) + 1 : round(top + height) - 1, round(left) + 1 : round(left + width) - 1]
        if box.std() < 4:
            flat.append(alt)
    # a picture of one flat level is a failed render, decode or crop; a crop of Fashion-MNIST's black margin may be one
    assert not [alt for alt in flat if alt in ("max", "min") or alt.startswith(("diverse", "input", "projection"))], flat
    assert len(flat) <= 2, flat
    page.close()
