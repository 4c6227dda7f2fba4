"""The activation atlas in Chromium (Debian's, through Playwright), opened from disk: every image of the map and of
every cell page decodes, zooming scales the map, a cell is one click away, and the page runs no inline script."""

from __future__ import annotations

from pathlib import Path

# Loads every image, lazy ones included, and reports [src, naturalWidth] of each.
LOAD_IMAGES = """Promise.all([...document.images].map(img => {
  img.loading = "eager";
  return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; });
})).then(() => [...document.images].map(img => [img.getAttribute("src"), img.naturalWidth]))"""
MAP_SCALE = "map => [map.getBoundingClientRect().width, map.dataset.scale]"


def open_page(chromium, path: Path):
    page = chromium.new_page(viewport={"width": 1000, "height": 900})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(path.as_uri())
    return page


def test_the_map_opens_with_every_image_zooms_and_leads_to_its_cells(chromium, fashion_map) -> None:
    result, folder = fashion_map.result, fashion_map.folder
    page = open_page(chromium, folder / "index.html")
    images = page.evaluate(LOAD_IMAGES)
    assert len(images) == len(result.cells) + len(result.class_cells(10))  # the map, and the class view's top cells
    assert [src for src, width in images if width == 0] == []
    before = page.eval_on_selector("#map", MAP_SCALE)
    page.click("#zoom-in")
    page.click("#zoom-in")
    after = page.eval_on_selector("#map", MAP_SCALE)
    assert before[1] == "1" and after[1] == "2.25" and abs(after[0] / before[0] - 2.25) < 0.01
    assert page.eval_on_selector("#stage", "stage => stage.scrollWidth > stage.clientWidth")
    page.click("#zoom-reset")
    assert page.eval_on_selector("#map", MAP_SCALE)[1] == "1"
    assert page.eval_on_selector("#map", "map => map.classList.contains('class-view')")
    page.click("#class-view")
    assert not page.eval_on_selector("#map", "map => map.classList.contains('class-view')")
    assert page.evaluate("[...document.scripts].every(script => script.src && !script.textContent.trim())")
    first = result.cells[0]
    page.click(f"a.cell.r{first.row}.c{first.col}")
    page.wait_for_url(f"**/cells/{first.name}.html")
    assert page.errors == []
    page.close()


def test_every_cell_page_shows_its_render_and_examples(chromium, fashion_map) -> None:
    result, folder = fashion_map.result, fashion_map.folder
    page = chromium.new_page()
    for cell in result.cells:
        page.goto((folder / "cells" / f"{cell.name}.html").as_uri())
        images = page.evaluate(LOAD_IMAGES)
        assert len(images) == 1 + 2 * len(cell.examples), cell.name  # the render; each example's crop and whole input
        assert [src for src, width in images if width == 0] == [], cell.name
    page.close()
