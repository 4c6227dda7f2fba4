"""The live page in a real browser: Chromium's fake webcam streams the bundled cat photo (drifting, from a Y4M file)
through the default model, and the page shows what comes back."""

from __future__ import annotations

import pytest

from featurelens.photos import bundled_photos

CANVAS_PIXELS = """(id) => { const c = document.getElementById(id);
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)); }"""
CLICK_TILE = """(channel) => { const c = document.getElementById('grid-canvas'), d = c.dataset, box = c.getBoundingClientRect();
    const col = channel % Number(d.cols), row = Math.floor(channel / Number(d.cols));
    const x = box.left + (col * (Number(d.tileWidth) + 1) + Number(d.tileWidth) / 2) / c.width * box.width;
    const y = box.top + (row * (Number(d.tileHeight) + 1) + Number(d.tileHeight) / 2) / c.height * box.height;
    return [x, y]; }"""
CANVAS_SPREAD = """(id) => { const c = document.getElementById(id); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let lo = 255, hi = 0; for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); } return hi - lo; }"""


def frames_seen(page) -> int:
    return int(page.get_attribute("#fps", "data-frames") or 0)


def wait_frames(page, more: int, timeout: float = 60_000) -> None:
    start = frames_seen(page)
    page.wait_for_function(f"() => Number(document.getElementById('fps').dataset.frames || 0) >= {start + more}", timeout=timeout)


def open_camera(page, live_server) -> None:
    page.goto(live_server.url)
    page.click("#source-camera")
    page.wait_for_function("() => document.getElementById('status').textContent === 'camera'", timeout=30_000)
    wait_frames(page, 3)


def test_the_grid_appears_and_changes_between_camera_frames(page, live_server) -> None:
    open_camera(page, live_server)
    assert page.get_attribute("#grid-canvas", "data-channels") == "480"  # every channel of _blocks.8._depthwise_act, a tile each
    first = page.evaluate(CANVAS_PIXELS, "grid-canvas")
    assert max(first) > 0  # the maps show activity
    # and follow the moving camera (the fake camera may repeat a frame a few times on a busy machine: wait for a new one)
    changed = page.wait_for_function("""(first) => { const c = document.getElementById('grid-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0, j = 0; i < d.length; i += 4, j += 1) if (d[i] !== first[j]) return true; return false; }""", arg=first, timeout=60_000)
    assert changed.json_value() is True
    assert float(page.text_content("#fps").split()[0]) > 0


def test_why_this_class_names_the_cat_and_a_click_opens_the_unit(page, live_server) -> None:
    open_camera(page, live_server)
    top = page.text_content("#classes li")
    assert top.split(" ")[0] in ("Egyptian", "tabby", "tiger")  # a cat class tops the list
    assert page.text_content("#why-class") in ("Egyptian cat", "tabby", "tiger cat")
    channels = page.eval_on_selector_all("#why li", "items => items.map(li => Number(li.dataset.channel))")
    assert len(channels) >= 5 and len(set(channels)) == len(channels)
    # the list follows the camera, so read the channel and click the same item in one step
    clicked = page.eval_on_selector("#why li", "li => { li.click(); return Number(li.dataset.channel); }")
    assert page.text_content("#unit-title") == f"_blocks.8._depthwise_act:{clicked}"
    page.wait_for_function("() => document.getElementById('unit-projection').dataset.frame !== undefined", timeout=30_000)
    wait_frames(page, 2)
    assert page.evaluate(CANVAS_SPREAD, "unit-live") > 50  # a live map with structure
    # and a live projection, or (a unit clipped at ReLU6's 6 has no gradient, as the top one often is) words saying why not
    figures = page.text_content("#unit-figures")
    assert "guided" in figures and (page.evaluate(CANVAS_SPREAD, "unit-projection") > 50 or "flat projection" in figures)
    page.select_option("#method", "deconvnet")  # whose rule passes a clipped unit's signal
    page.wait_for_function("() => document.getElementById('unit-figures').textContent.includes('(deconvnet)')", timeout=30_000)
    assert page.evaluate(CANVAS_SPREAD, "unit-projection") > 50 and "flat projection" not in page.text_content("#unit-figures")


def test_clicking_a_grid_tile_selects_its_channel(page, live_server) -> None:
    open_camera(page, live_server)
    x, y = page.evaluate(CLICK_TILE, 37)
    page.mouse.click(x, y)
    assert page.text_content("#unit-title") == "_blocks.8._depthwise_act:37"
    page.wait_for_function("() => document.getElementById('unit-live').dataset.frame !== undefined", timeout=30_000)


def test_changing_the_layer_redraws_the_grid(page, live_server) -> None:
    open_camera(page, live_server)
    page.select_option("#layer", "_blocks.15")
    page.wait_for_function("() => document.getElementById('grid-canvas').dataset.channels === '320'", timeout=30_000)
    assert page.text_content("#layer-name") == "_blocks.15"


def test_an_uploaded_image_is_shown_and_classified(page, live_server, tmp_path) -> None:
    coffee = tmp_path / "coffee.jpg"
    bundled_photos()[2].save(coffee)
    page.goto(live_server.url)
    page.wait_for_function("() => Number(document.getElementById('fps').dataset.frames || 0) >= 1", timeout=60_000)  # the first still
    page.set_input_files("#source-upload", str(coffee))
    page.wait_for_function("() => document.getElementById('status').textContent === 'coffee.jpg'", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#classes li') && document.querySelector('#classes li').textContent.startsWith('espresso')", timeout=30_000)
    assert page.is_hidden("#error")


def test_a_non_image_upload_shows_the_error(page, live_server, tmp_path) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("these are notes, not a picture")
    page.goto(live_server.url)
    page.set_input_files("#source-upload", str(notes))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "not an image" in page.text_content("#error")


@pytest.mark.parametrize("size_mb", [11])
def test_an_oversized_upload_shows_the_limit(page, live_server, tmp_path, size_mb) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + b"\0" * (size_mb << 20))
    page.goto(live_server.url)
    page.set_input_files("#source-upload", str(big))
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert "larger than 10 MB" in page.text_content("#error")


def test_the_address_opens_a_view_camera_layer_unit_and_classes_off(page, live_server) -> None:
    page.goto(live_server.url + "/?source=camera&layer=_blocks.15&classes=0&unit=7")
    page.wait_for_function("() => document.getElementById('status').textContent === 'camera'", timeout=30_000)
    page.wait_for_function("() => document.getElementById('grid-canvas').dataset.layer === '_blocks.15'", timeout=60_000)
    assert page.get_attribute("#grid-canvas", "data-channels") == "320"
    assert page.text_content("#unit-title") == "_blocks.15:7"
    assert not page.is_checked("#classes-toggle")
    wait_frames(page, 3)
    assert page.eval_on_selector_all("#classes li", "items => items.length") == 0  # no classes asked, none drawn
    page.goto(live_server.url + "/?layer=_blocks.99")
    page.wait_for_function("() => !document.getElementById('error').hidden", timeout=30_000)
    assert "_blocks.99" in page.text_content("#error")
