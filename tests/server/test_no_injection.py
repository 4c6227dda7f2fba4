"""The live page, in real Chromium, against what others may write: the page address, an atlas record in the folder it
serves, a model's name and class names, the data spec. Nothing of it runs; what is shown is shown as text."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from featurelens.atlas import AtlasSettings, AtlasStore
from featurelens.data import fashion_mnist
from featurelens.atlas.files import record_path
from featurelens.server import create_app

from tests.output.test_no_injection import DANGERS, PAYLOAD, hostile_model, hostile_record
from tests.server.conftest import RunningServer

DATA = "</script><script>window.__pwned=1</script>"  # never read (nothing is built here), only shown in the page's info
FRAMES = "n => Number(document.getElementById('fps').dataset.frames || 0) >= n"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """The live server on fashion-cnn as a user's model file (payload in its path and class names), with an atlas
    holding a hostile record for conv3:0 and a plain one for conv3:1."""
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    folder = tmp_path_factory.mktemp("hostile-served")
    model = hostile_model(folder)
    atlas = folder / "atlas"
    AtlasStore.open(atlas, model, "fashion-mnist:test", settings=AtlasSettings(steps=8, diverse=1, limit=300))
    distribution = {"score": PAYLOAD, "counts": [1, "<b>", 3], "min": "x", "max": 1, "mean": None}
    (atlas / "conv3").mkdir(exist_ok=True)
    (atlas / record_path("conv3", 0)).write_text(json.dumps({**hostile_record({}), "distribution": distribution}))
    plain = {"page": "conv3/1.html", "renders": {"max": "conv3/renders/1-max.png"}, "examples": {"max": [{"item": 7, "score": 1.5, "crop": "inputs/7.png"}]}}
    (atlas / record_path("conv3", 1)).write_text(json.dumps(plain))
    server = RunningServer(create_app(model, data=DATA, atlas=atlas))
    yield server, model
    server.stop()


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    yield page
    page.close()


def assert_nothing_ran(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate(DANGERS) == []


def test_a_hostile_record_in_the_unit_panel_runs_nothing(hostile_server, page) -> None:
    server, model = hostile_server
    page.goto(f"{server.url}/?layer=conv3&unit=0")
    page.evaluate("window.featurelensUnitViews('conv3', 0)")  # (the address's unit is chosen before units.js loads)
    page.wait_for_function("() => document.getElementById('unit-views').dataset.missing === ''", timeout=30_000)
    page.wait_for_function(FRAMES, arg=1, timeout=60_000)  # a frame (a still is sent once), with its classes
    assert_nothing_ran(page)
    panel = page.locator("#unit-views")
    assert panel.locator("a").count() == 0  # its page is a javascript: URL: no link
    sources = panel.locator("img").evaluate_all("imgs => imgs.map(img => img.getAttribute('src'))")
    # of its paths only the examples' crops (a relative name, however odd) are shown, under /atlas/
    assert sources == [f"/atlas/{PAYLOAD}.png"] * 2, sources
    assert panel.locator("img").first.get_attribute("alt") == f"{PAYLOAD}: –"  # the item as text, a score that is no number as a dash
    assert panel.locator("h3").last.inner_text() == f"{PAYLOAD} over the dataset"
    assert panel.locator(".histogram rect").count() == 3 and "– … 1.00, mean –" in panel.inner_text()
    assert page.locator("#classes li").first.inner_text().startswith(PAYLOAD)  # a class name, as text
    assert page.inner_text("h1") == f"featurelens {model.spec}"
    assert page.evaluate("[info.model, info.data]") == [model.spec, DATA]  # the JSON block kept both whole

    page.evaluate("window.featurelensUnitViews('conv3', 1)")  # a plain record still gets its link and images
    page.wait_for_selector("#unit-views a", timeout=30_000)
    assert page.get_attribute("#unit-views a", "href") == "/atlas/conv3/1.html"
    assert page.locator("#unit-views img").evaluate_all("imgs => imgs.map(img => img.getAttribute('src'))") == [
        "/atlas/conv3/renders/1-max.png", "/atlas/inputs/7.png"]
    assert page.get_attribute("#unit-views .examples img", "alt") == "7: 1.500"


def test_the_page_address_is_text(hostile_server, page) -> None:
    server, _ = hostile_server
    page.goto(f"{server.url}/?layer={quote(PAYLOAD)}&unit={quote('<script>window.__pwned=1</script>')}")
    page.wait_for_selector("#grid[data-frame]", timeout=60_000)
    page.wait_for_function(FRAMES, arg=1, timeout=60_000)
    page.wait_for_selector("#why li", timeout=30_000)
    assert_nothing_ran(page)
    assert PAYLOAD in page.inner_text("#error")  # the unknown layer named in the error, as text
    assert "is not a channel number" in page.inner_text("#error")  # the unit too, as text
    assert PAYLOAD not in page.locator("#why li").first.get_attribute("title")  # the page shows the layer the server does
