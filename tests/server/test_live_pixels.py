"""What the live page draws, read as pixels (the other page tests read data attributes): the input is visible in the
view, the grid's tiles differ and follow the input, a unit's projection and live map have structure, a signed layer is
drawn in two colours with a legend that says so, and what goes wrong is said in words.

Each test keeps a full-page screenshot in test-artifacts/screenshots/ (named by test) for a person to look at."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from featurelens.photos import bundled_photos
from tests.server.test_live_page import CLICK_TILE

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CANVAS_PNG = "(id) => document.getElementById(id).toDataURL('image/png')"
GRID = "(() => { const d = document.getElementById('grid-canvas').dataset; return [+d.channels, +d.cols, +d.tileWidth, +d.tileHeight]; })()"
SETTLED = "() => state.ws && state.ws.readyState === 1 && state.sent === state.received + state.dropped && !state.stillDirty"


def keep_screenshot(page, name: str) -> None:
    """The whole page as test-artifacts/screenshots/NAME.png, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def shot(page, request):
    """The page, screenshotted whole when the test ends (passed or failed), named by the test."""
    yield page
    keep_screenshot(page, request.node.name)


def element_pixels(page, selector: str) -> np.ndarray:
    """RGB uint8 [H, W, 3] of what the element shows on screen."""
    return np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB"))


def canvas_pixels(page, canvas_id: str) -> np.ndarray:
    """RGB uint8 [H, W, 3] of a canvas' own pixels."""
    url = page.evaluate(CANVAS_PNG, canvas_id)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def tiles(page) -> np.ndarray:
    """The grid's tiles, one per channel: uint8 [C, h, w, 3], cut at the canvas' data attributes."""
    channels, cols, width, height = page.evaluate(GRID)
    grid = canvas_pixels(page, "grid-canvas")
    return np.stack([grid[(c // cols) * (height + 1) :][:height, (c % cols) * (width + 1) :][:, :width] for c in range(channels)])


def grey(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64) @ [0.299, 0.587, 0.114]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(grey(a).ravel(), grey(b).ravel())[0, 1])


def as_shown(photo: Image.Image, shape: tuple[int, ...]) -> np.ndarray:
    """`photo` as a box of `shape` shows it with `object-fit: cover` (scaled to fill, centre kept)."""
    return np.asarray(ImageOps.fit(photo.convert("RGB"), (shape[1], shape[0]), Image.Resampling.BILINEAR))


def settle(page) -> int:
    """Waits until no frame is in flight and the still has gone out; the grid's frame number then."""
    page.wait_for_function(SETTLED, timeout=60_000)
    page.wait_for_function("() => document.getElementById('grid').dataset.frame !== undefined", timeout=60_000)
    return int(page.get_attribute("#grid", "data-frame"))


def open_photo(page, url: str, number: int = 1) -> None:
    """The page on bundled photo `number` (1, the cat, is the default), its frame drawn."""
    page.goto(url)
    page.wait_for_function("() => document.getElementById('status').textContent === 'bundled photo 1'", timeout=60_000)
    settle(page)
    if number != 1:
        choose_photo(page, number)


def choose_photo(page, number: int) -> None:
    before = settle(page)
    page.locator("#photos img").nth(number).click()
    page.wait_for_function(f"() => document.getElementById('status').textContent === 'bundled photo {number}'", timeout=60_000)
    page.wait_for_function(f"() => Number(document.getElementById('grid').dataset.frame) > {before}", timeout=60_000)
    settle(page)


def test_the_chosen_photo_is_visible_in_the_view(shot, live_server) -> None:
    open_photo(shot, live_server.url)
    for number in (1, 2):  # the default (the cat), then a click on the coffee's thumbnail
        if number != 1:
            choose_photo(shot, number)
        view = element_pixels(shot, "#view")
        assert view.shape[0] > 200 and abs(view.shape[0] - view.shape[1]) <= 2  # the square box
        assert grey(view).mean() > 40 and (grey(view) < 16).mean() < 0.5, "the view is mostly black"
        expected = {n: as_shown(bundled_photos()[n], view.shape) for n in (1, 2)}
        assert correlation(view, expected[number]) > 0.8
        assert correlation(view, expected[number]) > correlation(view, expected[3 - number]) + 0.3  # and not the other one


def test_the_grid_tiles_differ_from_each_other_and_follow_the_photo(shot, live_server) -> None:
    open_photo(shot, live_server.url)
    cat = tiles(shot)
    assert cat.shape[0] == 480 and (cat[..., 0] == cat[..., 2]).all()  # every channel of the rectified default, grey
    levels = cat[..., 0].reshape(len(cat), -1).astype(int)
    assert levels.max() == 255 and (levels.max(1) == 255).mean() > 0.5  # most tiles reach their own peak
    lively = levels.std(1) > 10
    assert lively.mean() > 0.5  # most tiles have structure, not one level
    distinct = {tile.tobytes() for tile in levels[lively].astype(np.uint8)}
    assert len(distinct) == lively.sum()  # and no two are the same
    some = levels[lively][:40]
    differences = np.abs(some[:, None] - some[None]).mean(2)[np.triu_indices(len(some), 1)]
    assert np.median(differences) > 20  # tiles differ from each other, pair by pair

    choose_photo(shot, 2)  # the coffee
    coffee = tiles(shot)[..., 0].reshape(len(cat), -1).astype(int)
    changed = np.abs(coffee - levels).mean(1)
    assert changed.mean() > 15 and (changed > 5).mean() > 0.7  # most channels see another picture


def test_the_camera_is_shown_and_its_grid_moves(shot, live_server) -> None:
    page = shot
    page.goto(live_server.url + "/?source=camera")
    page.wait_for_function("() => document.getElementById('status').textContent === 'camera'", timeout=60_000)
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 3", timeout=60_000)
    view = element_pixels(page, "#view")
    photo = bundled_photos()[1]  # the camera plays crops of the cat drifting (conftest.cat_video)
    crops = [photo.crop((90 + 4 * i, 20 + 2 * i, 90 + 4 * i + 256, 20 + 2 * i + 256)) for i in range(12)]
    assert max(correlation(view, as_shown(crop, view.shape)) for crop in crops) > 0.8
    first = tiles(page)
    assert first.max() == 255 and (first.reshape(len(first), -1).std(1) > 10).mean() > 0.5  # not blank
    page.evaluate("(first) => { window.firstGrid = first; }", page.evaluate(CANVAS_PNG, "grid-canvas"))
    page.wait_for_function(f"() => ({CANVAS_PNG})('grid-canvas') !== window.firstGrid", timeout=60_000)  # the next camera frames
    later = tiles(page)
    assert np.abs(later.astype(int) - first.astype(int)).mean() > 1


def test_a_chosen_unit_shows_a_projection_and_a_live_map_with_structure(shot, live_server) -> None:
    page = shot
    open_photo(page, live_server.url)
    channel = 10  # on the cat: 3.9 at its peak, not clipped at ReLU6's 6 (whose projection is flat, as the page says)
    x, y = page.evaluate(CLICK_TILE, channel)
    page.mouse.click(x, y)
    page.wait_for_function("() => document.getElementById('unit-projection').dataset.frame !== undefined", timeout=60_000)
    assert page.text_content("#unit-title") == f"_blocks.8._depthwise_act:{channel}"
    projection, live = canvas_pixels(page, "unit-projection"), canvas_pixels(page, "unit-live")
    away = np.abs(grey(projection) - 128)  # the gradient's picture: grey where none reached, the unit's patch in colour
    assert away.max() > 60 and (away > 10).mean() > 0.02  # a patch with real contrast, not a flat square
    assert len(np.unique(projection.reshape(-1, 3), axis=0)) > 200  # in many colours
    assert grey(live).std() > 10  # the unit's live map as its tile shows it, enlarged
    assert "flat projection" not in page.text_content("#unit-figures")
    overlay = element_pixels(page, "#view")  # the unit's map over the photo, in orange
    assert (overlay[..., 0].astype(int) - overlay[..., 2] > 80).mean() > 0.01


def test_a_signed_layer_is_drawn_in_two_colours_and_the_legend_says_so(shot, live_server, request) -> None:
    page = shot
    open_photo(page, live_server.url)
    assert page.get_attribute("#grid-legend", "data-signed") == "false"  # the default layer is rectified
    assert page.text_content("#grid-legend").strip().startswith("rectified layer: brighter is stronger")
    page.select_option("#layer", "_blocks.8")  # an MBConv block's output: a linear bottleneck
    page.wait_for_function("() => document.getElementById('grid-canvas').dataset.layer === '_blocks.8'", timeout=60_000)
    settle(page)
    assert page.get_attribute("#grid-canvas", "data-signed") == "true"
    legend = " ".join(page.text_content("#grid-legend").split())
    assert legend.startswith("signed layer: blue below zero") and "orange above" in legend
    drawn = tiles(page).reshape(-1, 3).astype(int)
    red, blue = drawn[:, 0], drawn[:, 2]
    assert (blue - red > 60).mean() > 0.05 and (red - blue > 60).mean() > 0.05  # both sides of zero, in their colours
    assert (np.abs(drawn - drawn[:, :1]).max(1) < 8).mean() < 0.5  # not a grey picture
    keep_screenshot(page, f"{request.node.name}-signed")
    page.select_option("#layer", "_blocks.8._depthwise_act")  # and back: grey again
    page.wait_for_function("() => document.getElementById('grid-legend').dataset.signed === 'false'", timeout=60_000)


def test_a_unit_address_opens_its_stored_views(shot, fashion_server) -> None:
    server, _ = fashion_server
    shot.goto(server.url + "/?unit=5")
    shot.wait_for_function("() => document.getElementById('unit-views').dataset.missing !== undefined", timeout=60_000)
    assert shot.text_content("#unit-title") == "relu2:5"
    assert shot.locator("#unit-build").is_visible()  # the empty atlas offers to build what it lacks
    shot.wait_for_function("() => document.getElementById('unit-live').dataset.frame !== undefined", timeout=60_000)


def test_a_file_that_is_no_video_is_named_in_the_error(shot, live_server, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not a film")
    open_photo(shot, live_server.url)
    shot.set_input_files("#source-video", str(notes))
    shot.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert shot.text_content("#error") == "notes.txt is not a video this browser can play"


def test_a_fault_of_the_page_itself_is_said_on_the_page(shot, live_server) -> None:
    open_photo(shot, live_server.url)
    shot.evaluate("() => { setTimeout(() => { throw new Error('the encoder broke'); }); }")
    shot.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "page error" in shot.text_content("#error") and "the encoder broke" in shot.text_content("#error")
