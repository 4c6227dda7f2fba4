"""An atlas measures every projection method's sanity on its model once, projects its examples by the best one that
passes, and says so on its pages; a unit page compares each render with the atlas's own data, not the bundled photos."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import featurelens as fl
from featurelens.atlas import AtlasSettings, AtlasStore
from featurelens.atlas.pass_data import LayerPass
from featurelens.atlas.settings import REDUCE
from featurelens.capture import capture_activations
from featurelens.dataset_examples.projections import example_projections
from featurelens.atlas.files import pass_path


class Spans(HTMLParser):
    """Every element's attributes and text, for the elements with a class (`found[class]` → list of (attrs, text))."""

    def __init__(self, html: str):
        super().__init__()
        self.found: dict[str, list[tuple[dict, str]]] = {}
        self._open: list[tuple[str, dict, list[str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("span", "p"):
            self._open.append((tag, attrs, []))

    def handle_data(self, data):
        for _, _, text in self._open:
            text.append(data)

    def handle_endtag(self, tag):
        if tag in ("span", "p") and self._open:
            _, attrs, text = self._open.pop()
            for name in (attrs.get("class") or "").split():
                self.found.setdefault(name, []).append((attrs, "".join(text)))


def page(folder: Path, path: str) -> Spans:
    return Spans((folder / path).read_text())


def test_the_atlas_records_every_method_s_score_and_the_one_it_shows(fashion_atlas) -> None:
    folder = fashion_atlas.folder
    projection = json.loads((folder / "atlas.json").read_text())["projection"]
    sanity = projection["sanity"]
    assert projection["requested"] == "auto" and projection["data"] == "fashion-mnist:test"
    assert sanity["model"] == "fashion-cnn" and sanity["layer"] == "conv3" and sanity["inputs"] == 4
    assert {s["method"] for s in sanity["scores"]} == {"deconvnet", "guided", "gradient"}
    passing = [s for s in sanity["scores"] if s["passes"]]
    assert passing and projection["method"] == sanity["chosen"] == max(passing, key=lambda s: s["score"])["method"]
    for layer in fashion_atlas.layers:
        record = json.loads((folder / layer / "0.json").read_text())
        assert record["projection"]["method"] == projection["method"]
        assert record["projection"]["scores"] == {s["method"]: s["score"] for s in sanity["scores"]}


def test_the_examples_are_projected_by_the_chosen_method(fashion_atlas, fashion) -> None:
    folder = fashion_atlas.folder
    chosen = json.loads((folder / "atlas.json").read_text())["projection"]["method"]
    other = next(m for m in ("deconvnet", "guided", "gradient") if m != chosen)
    store = AtlasStore.open(folder, fashion, None)
    entry = store.manifest.layer("conv3")
    result = LayerPass.load(folder / pass_path("conv3")).examples_of(
        "conv3", entry.shape, entry.field, store.source(), fashion.spec, 9, REDUCE, 28, 1)
    record = store.unit("conv3", 0)
    stored = [np.asarray(Image.open(folder / e["projection"]), dtype=np.int16).reshape(-1) for e in record["examples"]["max"]]
    for method, same in ((chosen, True), (other, False)):
        made = example_projections(fashion, result, method, channels={"conv3": [0]})
        differences = [np.abs(made[("conv3", 0, "max", rank)].astype(np.int16).reshape(-1) - picture).max()
                       for rank, picture in enumerate(stored, start=1)]
        assert (max(differences) <= 1) == same, method  # 1: renders leave the model channels-last (last bits)


def test_unit_and_layer_pages_show_the_method_and_every_score(fashion_atlas) -> None:
    folder = fashion_atlas.folder
    projection = json.loads((folder / "atlas.json").read_text())["projection"]
    expected = [(s["method"], s["score"], s["passes"]) for s in projection["sanity"]["scores"]]
    for path in ("conv3/1.html", "logit/0.html", "conv2/index.html", "index.html"):
        found = page(folder, path)
        (line_attrs, line), = found.found["sanity"]
        assert line_attrs["data-method"] == projection["method"] and f"Projections of the top examples: {projection['method']}" in line
        spans = found.found["sanity-score"]
        assert [(a["data-method"], float(a["data-score"]), a["data-passes"] == "true") for a, _ in spans] == expected
        for (attrs, text), (method, score, passes) in zip(spans, expected):
            assert text.startswith(f"{method} {score:.2f} {'✓' if passes else '✗'}")
            assert ("fails the check" in text) != passes
    assert f"the {projection['method']} projection of the unit" in (folder / "conv3" / "1.html").read_text()


def test_a_render_is_compared_with_the_atlas_s_own_top_and_bottom_example(fashion_atlas, fashion) -> None:
    folder = fashion_atlas.folder
    for layer in fashion_atlas.layers:
        for channel in range(fashion_atlas.units):
            record = json.loads((folder / layer / f"{channel}.json").read_text())
            spans = page(folder, f"{layer}/{channel}.html").found["compare"]
            assert [a["data-kind"] for a, _ in spans] == ["max", "min"]
            for (attrs, text), kind in zip(spans, ("max", "min")):
                best = record["examples"][kind][0]["score"]
                extreme = record["render_figures"][kind]["extreme"]
                assert float(attrs["data-data"]) == best and float(attrs["data-render"]) == extreme
                assert attrs["data-source"] == "fashion-mnist:test"
                assert "fashion-mnist:test" in text and "photos" not in text and f"{best:.3g}" in text
                # the render's figure is the one the examples are ranked by: its peak (trough) on the saved image
                image = torch.from_numpy(np.asarray(Image.open(folder / record["renders"][kind]), dtype=np.float32) / 255)[None, None]
                with torch.no_grad():
                    values = capture_activations(fashion.module, fashion.normalize(image), [layer])[layer][0, channel]
                assert extreme == pytest.approx(float(values.max() if kind == "max" else values.min()), rel=1e-4, abs=1e-5)


def test_on_lite0_the_atlas_does_not_project_by_deconvnet(lite0, tmp_path) -> None:
    """EfficientNet-Lite0's deep blocks: deconvnet shows the same map for every input and fails the check."""
    folder = tmp_path / "atlas"
    store = AtlasStore.open(folder, lite0, "photos", settings=AtlasSettings(units=1, k=2, limit=6, out=folder))
    store.ensure_examples(["_blocks.15"], channels=[0])
    projection = json.loads((folder / "atlas.json").read_text())["projection"]
    scores = {s["method"]: s for s in projection["sanity"]["scores"]}
    assert projection["sanity"]["layer"] == "_blocks.15" and projection["data"] == "photos"
    assert not scores["deconvnet"]["passes"] and scores["guided"]["passes"] and scores["gradient"]["passes"]
    assert projection["method"] in ("guided", "gradient")
    spans = page(folder, "_blocks.15/0.html").found["sanity-score"]
    deconvnet = next(text for attrs, text in spans if attrs["data-method"] == "deconvnet")
    assert "✗" in deconvnet and "the same map whatever the input" in deconvnet
    assert store.unit("_blocks.15", 0)["projection"]["method"] == projection["method"]


def test_an_audio_unit_page_compares_its_render_with_its_own_clips(music_clips, tmp_path) -> None:
    pytest.importorskip("soundfile")
    folder = tmp_path / "atlas"
    fl.atlas("music-cnn", str(music_clips), ["conv3"], 1, steps=4, k=2, out=folder)
    record = json.loads((folder / "conv3" / "0.json").read_text())
    found = page(folder, "conv3/0.html")
    assert [a["data-kind"] for a, _ in found.found["compare"]] == ["max", "min"]
    for (attrs, text), kind in zip(found.found["compare"], ("max", "min")):
        assert float(attrs["data-data"]) == record["examples"][kind][0]["score"]
        assert float(attrs["data-render"]) == record["audio_figures"][kind]["extreme"]
        assert f"over time {record['audio_figures'][kind]['extreme']:.3g}" in text
        assert Path(music_clips).name in text and "clip" in text and "photos" not in text
    assert "sanity" not in found.found and json.loads((folder / "atlas.json").read_text())["projection"] is None  # no projections of sound


def test_an_atlas_made_with_a_named_method_reopens_under_the_auto_default(fashion, tmp_path) -> None:
    folder = tmp_path / "atlas"
    AtlasStore.open(folder, fashion, "fashion-mnist:test", settings=AtlasSettings(steps=8, project="deconvnet"))
    again = AtlasStore.open(folder, fashion, "fashion-mnist:test", settings=AtlasSettings(steps=8))  # project "auto"
    assert again.settings.project == "deconvnet"
    with pytest.raises(fl.FeaturelensError, match="made with project 'deconvnet', not 'guided'"):
        AtlasStore.open(folder, fashion, "fashion-mnist:test", settings=AtlasSettings(steps=8, project="guided"))
