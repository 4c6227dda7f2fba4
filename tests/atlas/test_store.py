"""`AtlasStore`, as the live server uses it: open an atlas of the right model only, fill single units on demand,
and say in one line what is wrong."""

from __future__ import annotations

import json

import pytest

import featurelens as fl
from featurelens.atlas import AtlasSettings, AtlasStore
from featurelens.errors import FeaturelensError


def test_open_refuses_an_atlas_of_another_model(fashion_atlas, lite0) -> None:
    with pytest.raises(FeaturelensError, match="holds an atlas of model 'fashion-cnn', not 'efficientnet-lite0'") as caught:
        AtlasStore.open(fashion_atlas.folder, lite0, None)
    assert "\n" not in str(caught.value)


def test_open_refuses_other_data_other_settings_and_a_folder_of_other_files(fashion_atlas, fashion, tmp_path) -> None:
    with pytest.raises(FeaturelensError, match="shows examples from 'fashion-mnist:test', not 'photos'"):
        AtlasStore.open(fashion_atlas.folder, fashion, "photos")
    with pytest.raises(FeaturelensError, match="made with steps 8, not 256") as caught:
        AtlasStore.open(fashion_atlas.folder, fashion, None, settings=AtlasSettings())
    assert caught.value.parameter == "steps"
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FeaturelensError, match="holds files but no atlas.json"):
        AtlasStore.open(tmp_path, fashion, "photos")
    with pytest.raises(FeaturelensError, match="^units must be a positive number"):
        fl.atlas(fashion, units=0, out=tmp_path / "new")
    assert not (tmp_path / "new").exists()  # checked before anything is written


def test_open_creates_an_empty_atlas_and_adopts_an_existing_ones_data_and_settings(fashion_atlas, fashion, tmp_path) -> None:
    store = AtlasStore.open(tmp_path / "fresh", fashion, "fashion-mnist:test")
    manifest = json.loads((tmp_path / "fresh" / "atlas.json").read_text())
    assert manifest["layers"] == [] and manifest["data"] == "fashion-mnist:test" and manifest["settings"]["steps"] == 256
    assert (tmp_path / "fresh" / "index.html").is_file() and store.unit("conv2", 0) is None
    existing = AtlasStore.open(fashion_atlas.folder, fashion, None)
    assert existing.settings.steps == 8 and existing.manifest.data == "fashion-mnist:test"


def test_the_server_path_fills_one_new_unit_of_a_built_layer(fashion, atlas_copy) -> None:
    store = AtlasStore.open(atlas_copy, fashion, None)
    store.ensure_examples(["conv3"], channels=[40])
    store.ensure_renders("conv3", [40])
    store.ensure_renders("conv3", [40])  # again: nothing to do
    store.ensure_examples(["conv3"])
    report = store.report
    assert (report.renders_built, report.examples_built, report.passes) == (1, 1, 0)
    assert report.renders_skipped == 1 and report.examples_skipped == 3 + 4
    record = store.unit("conv3", 40)
    assert record["page"] == "conv3/40.html" and record["renders"]["max"] == "conv3/renders/40-max.png"
    assert len(record["examples"]["max"]) == 9 and sum(record["distribution"]["counts"]) == 200
    assert json.loads((atlas_copy / "atlas.json").read_text())["layers"][1]["units"] == [0, 1, 2, 40]
    assert '<a href="40.html">' in (atlas_copy / "conv3" / "2.html").read_text()
    assert '<a class="cell" href="40.html">' in (atlas_copy / "conv3" / "index.html").read_text()


def test_one_line_errors_for_units_a_layer_has_not_and_examples_without_data(fashion, tmp_path) -> None:
    store = AtlasStore.open(tmp_path / "a", fashion, None, settings=AtlasSettings(steps=2, diverse=0))
    with pytest.raises(FeaturelensError, match=r"channel 64 out of range for layer 'conv2': valid channels are 0..63"):
        store.ensure_renders("conv2", [64])
    with pytest.raises(FeaturelensError, match="unknown layer 'conv9'"):
        store.ensure_renders("conv9", [0])
    with pytest.raises(FeaturelensError, match="this atlas has no data source"):
        store.ensure_examples(["conv2"])
