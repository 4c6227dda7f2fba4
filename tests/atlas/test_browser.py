"""The atlas in a real browser (Debian's Chromium through Playwright), opened from disk: every page reachable from the
index loads, every image decodes, every link leads to a file, and nothing is fetched from the network."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

# Loads every image, lazy ones included (they would wait for a scroll), and reports [src, naturalWidth] of each.
LOAD_IMAGES = """Promise.all([...document.images].map(img => {
  img.loading = "eager";
  return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
})).then(() => [...document.images].map(img => [img.getAttribute("src"), img.naturalWidth]))"""


def walk(browser, index: Path) -> dict[str, dict]:
    """Visit every .html page reachable from `index` by links; per page URL, its images and its links."""
    page = browser.new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    seen: dict[str, dict] = {}
    queue = [index.as_uri()]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = page.goto(url)
        assert response is None or response.ok, url
        images = page.evaluate(LOAD_IMAGES)
        links = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
        seen[url] = {"images": images, "links": links}
        queue += [urldefrag(link).url for link in links if urldefrag(link).url.endswith(".html")]
    page.close()
    assert all(urlparse(url).scheme == "file" for url in requests), [u for u in requests if not u.startswith("file:")]
    return seen


def check_site(browser, folder: Path) -> dict[str, dict]:
    pages = walk(browser, folder / "index.html")
    for url, found in pages.items():
        broken = [src for src, width in found["images"] if width == 0]
        assert not broken, f"{url}: broken images {broken}"
        for link in found["links"]:
            target = Path(unquote(urlparse(urldefrag(link).url).path))
            assert urlparse(link).scheme == "file" and target.is_file(), f"{url}: link to {link} leads to no file"
    return pages


def test_every_page_image_and_link_of_the_atlas_works_from_disk(chromium, fashion_atlas, tmp_path) -> None:
    moved = tmp_path / "moved elsewhere"  # a copy in another place, with a space in its path: links are relative
    shutil.copytree(fashion_atlas.folder, moved)
    pages = check_site(chromium, moved)
    names = {Path(unquote(urlparse(url).path)).relative_to(moved.resolve()).as_posix() for url in pages}
    expected = {"index.html"} | {f"{layer}/index.html" for layer in ("conv2", "conv3", "logit")}
    expected |= {f"{layer}/{c}.html" for layer in ("conv2", "conv3", "logit") for c in range(3)}
    assert names == expected
    unit = pages[(moved / "conv2" / "1.html").as_uri()]
    # max, min, 2 diverse, 9 + 9 inputs, 9 + 9 crops, 9 projections
    assert len(unit["images"]) == 4 + 18 + 18 + 9
    layer = pages[(moved / "logit" / "index.html").as_uri()]
    assert len(layer["images"]) == 3


def test_a_layer_page_of_1280_units_has_fixed_cells_and_lazy_images(chromium, lite0, tmp_path) -> None:
    """EfficientNet-Lite0's `_conv_head` has 1,280 channels: its layer page is a grid of fixed-size cells whose images
    load lazily and take their place without moving anything."""
    from featurelens.atlas import AtlasSettings, AtlasStore

    store = AtlasStore.open(tmp_path / "wide", lite0, None, settings=AtlasSettings(steps=2, diverse=0))
    store.add_units("_conv_head", range(1280))
    store.ensure_renders("_conv_head", [0, 1279])
    page = chromium.new_page(viewport={"width": 1000, "height": 700})
    page.goto((tmp_path / "wide" / "_conv_head" / "index.html").as_uri())
    boxes = "cells => cells.map(c => [c.getAttribute('href'), c.offsetLeft, c.offsetTop, c.offsetWidth, c.offsetHeight])"
    before = page.eval_on_selector_all("a.cell", boxes)
    assert len(before) == 1280 and before[5][0] == "5.html" and before[-1][0] == "1279.html"
    assert len({tuple(cell[3:]) for cell in before}) == 1  # every cell the same size, image or not
    assert page.eval_on_selector_all("a.cell img", "imgs => imgs.map(i => [i.loading, i.complete])") == [["lazy", True], ["lazy", False]]
    assert [width for _, width in page.evaluate(LOAD_IMAGES)] == [224, 224]  # size auto: _conv_head sees the whole input
    assert page.eval_on_selector_all("a.cell", boxes) == before  # no layout shift once the images are in
    page.close()
