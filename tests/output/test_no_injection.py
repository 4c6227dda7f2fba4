"""Every page the package writes shows a hostile data file's name, model name, class name or atlas record as text:
opened in real Chromium (Debian's, through Playwright), nothing of it runs, and the text is there to read."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

import featurelens as fl
from featurelens.data import fashion_mnist
from featurelens.atlas.files import record_path

# Closes an attribute, then starts an element whose failing image load runs script: it runs wherever the
# name is pasted into a page as markup, in text or in a quoted attribute.
PAYLOAD = '"><img src=x onerror=window.__pwned=1>'
SCRIPT_URL = "javascript:window.__pwned=1"
# Every element in the body with an event-handler attribute, a javascript: or data: link, or a src/href starting with a slash.
DANGERS = """() => [...document.body.querySelectorAll("*")].flatMap(node => [...node.attributes]
  .filter(a => a.name.startsWith("on") || (["src", "href"].includes(a.name) && /^\\s*(javascript|data):/i.test(a.value)))
  .map(a => `${node.tagName} ${a.name}=${a.value}`))"""

needs_data = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")


def hostile_images(folder: Path, count: int = 40) -> Path:
    """`count` real Fashion-MNIST test images as PNGs, each named with the payload (and the folder too)."""
    images, _ = fashion_mnist.load_fashion_mnist("test")
    data = folder / f"data {PAYLOAD}"
    data.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(images[i].numpy()).save(data / f"{PAYLOAD} {i:02d}.png")
    return data


def hostile_model(folder: Path) -> fl.LoadedModel:
    """fashion-cnn's trained network as a user's model file in a folder named with the payload (its spec shows the
    path), with the payload in every class name."""
    where = folder / f"model {PAYLOAD}"
    where.mkdir(parents=True)
    (where / "net.py").write_text(textwrap.dedent(f"""
        import featurelens

        def build():
            shipped = featurelens.load_model("fashion-cnn")
            module = shipped.module
            module.input_size, module.in_channels, module.min_size = 28, 1, 28
            module.mean, module.std = shipped.mean, shipped.std
            module.class_names = [{PAYLOAD!r} + " " + name for name in shipped.class_names]
            return module
    """))
    return fl.load_model(f"{where}/net.py:build")


def opened(chromium, page_file: Path):
    """`page_file` loaded in Chromium (images failed or loaded): the page, for reading."""
    page = chromium.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    return page


def assert_shown_as_text(page, must_show: bool = True) -> None:
    """Nothing ran, nothing on the page could run, and (when `must_show`) the payload reads as text."""
    assert page.evaluate("window.__pwned") is None, page.url
    assert page.evaluate(DANGERS) == [], page.url
    if must_show:
        assert PAYLOAD in page.inner_text("body"), page.url


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, one_thread_module):
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    folder = tmp_path_factory.mktemp("hostile")
    return hostile_images(folder), hostile_model(folder), folder


@pytest.fixture(scope="module")
def one_thread_module():
    """One torch thread for the module's small runs (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@needs_data
def test_examples_pages_show_file_names_as_text(hostile, fashion, chromium, tmp_path) -> None:
    data, _, _ = hostile
    index = fl.examples(fashion, str(data), ["conv3"], k=3, limit=40, batch_size=20).save(tmp_path / "examples")
    for name in ("index.html", "layer-conv3.html"):
        assert_shown_as_text(opened(chromium, index.parent / name))
    assert "&lt;img src=x" in (index.parent / "layer-conv3.html").read_text()  # escaped, not dropped


@needs_data
def test_overview_page_shows_the_model_spec_as_text(hostile, chromium, tmp_path) -> None:
    _, model, _ = hostile
    index = fl.overview(model, ["conv3"], 2, steps=2).save(tmp_path / "overview")
    page = opened(chromium, index)
    assert_shown_as_text(page)
    assert page.evaluate("document.images.length") == 2  # the two renders, no third image from the spec


@needs_data
def test_evolution_page_shows_the_data_spec_as_text(hostile, fashion, chromium, tmp_path) -> None:
    data, _, _ = hostile
    index = fl.evolve(fashion, str(data), "conv3:0", steps=2, k=2, limit=20).save(tmp_path / "evolution")
    page = opened(chromium, index)
    assert_shown_as_text(page)
    assert page.evaluate("document.images.length") == 2 * 7  # a render and an examples grid per checkpoint


@pytest.fixture(scope="module")
def hostile_atlas(hostile, tmp_path_factory) -> Path:
    data, model, _ = hostile
    out = tmp_path_factory.mktemp("atlas") / "atlas"
    fl.atlas(model, str(data), ["conv3", "logit"], 2, out=out, steps=2, diverse=1, limit=40, k=2)
    return out


@needs_data
def test_atlas_pages_show_file_and_class_names_as_text(hostile_atlas, chromium) -> None:
    pages = sorted(hostile_atlas.rglob("*.html"))
    assert len(pages) == 1 + 2 * (1 + 2)  # the index, and per layer its page and two units'
    for path in pages:
        # the index names the data folder, unit pages their examples' files, the logits' pages their classes
        assert_shown_as_text(opened(chromium, path), must_show=path != hostile_atlas / "conv3" / "index.html")


def hostile_record(record: dict) -> dict:
    """`record` with a payload in every text, links to script or outside the atlas, and figures that are not numbers."""
    example = {"item": PAYLOAD, "score": "<b>9</b>", "rank": PAYLOAD, "box": [0, 0, 28, 28], "input": SCRIPT_URL,
               "crop": f'{PAYLOAD}.png', "projection": "/etc/passwd"}
    return {
        **record, "layer": PAYLOAD, "channel": SCRIPT_URL, "label": PAYLOAD, "page": SCRIPT_URL,
        "renders": {"max": SCRIPT_URL, "min": " javascript:window.__pwned=1", "diverse": ["../../../outside.png", "data:image/png;base64,AA=="]},
        "render_figures": {kind: {"activation": "NaN", "photos": PAYLOAD, "judged": {}} for kind in ("max", "min")},
        "examples": {"max": [example], "min": [{**example, "input": "https://example.com/x.png"}]},
        "distribution": None,
    }


@needs_data
def test_an_atlas_unit_page_written_from_a_hostile_record_runs_nothing(hostile, hostile_atlas, chromium, tmp_path) -> None:
    _, model, _ = hostile
    folder = tmp_path / "atlas"
    shutil.copytree(hostile_atlas, folder)
    path = folder / record_path("conv3", 0)
    path.write_text(json.dumps(hostile_record(json.loads(path.read_text()))))
    fl.AtlasStore.open(folder, model, None).write_pages()
    page = opened(chromium, folder / "conv3" / "0.html")
    assert_shown_as_text(page)
    links = page.eval_on_selector_all("[src], a[href]", "nodes => nodes.map(n => n.getAttribute('src') ?? n.getAttribute('href'))")
    assert all(link == "" or not link.startswith(("/", "javascript:", "data:", "https:")) and "../../" not in link for link in links), links
    assert page.inner_text("h1") == "conv3:0 — " + PAYLOAD  # the unit is where the record was read from, its label text
    assert f"#{PAYLOAD} – · {PAYLOAD}" in page.inner_text("body")  # an example's caption; a score that is no number: a dash
