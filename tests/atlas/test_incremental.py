"""An atlas grows: a rerun builds and rewrites nothing, more units or layers add only themselves (no second pass over
the data for layers that had one), and Ctrl-C keeps every finished chunk for a rerun to complete."""

from __future__ import annotations

import json

import pytest

import featurelens as fl
from featurelens.atlas import AtlasStore


def rerun(fashion, built, folder, layers=None, units=None, progress=None):
    return fl.atlas(fashion, built.data, layers or built.layers, units or built.units, out=folder, progress=progress, **built.settings)


def test_a_rerun_builds_nothing_and_touches_no_file(fashion, fashion_atlas, atlas_copy, file_times) -> None:
    before = file_times(atlas_copy)
    result = rerun(fashion, fashion_atlas, atlas_copy)
    assert result.summary()["built"] == {"renders": 0, "examples": 0, "passes": 0}
    assert result.summary()["skipped"] == {"renders": 9, "examples": 9}
    assert not result.interrupted
    assert file_times(atlas_copy) == before
    assert len(result.images) == 9  # the covered units' max renders, built before


def test_more_units_extend_each_layer_without_a_second_pass(fashion, fashion_atlas, atlas_copy, file_times) -> None:
    before = file_times(atlas_copy)
    result = rerun(fashion, fashion_atlas, atlas_copy, units=5)
    assert result.summary()["built"] == {"renders": 6, "examples": 6, "passes": 0}
    after = file_times(atlas_copy)
    for layer in fashion_atlas.layers:
        assert after[f"{layer}/renders/0-max.png"] == before[f"{layer}/renders/0-max.png"]  # old renders kept
        assert after[f"{layer}/examples.npz"] == before[f"{layer}/examples.npz"]  # the pass's results reused
        assert {f"{layer}/{c}.html" for c in (3, 4)} <= set(after)
    manifest = json.loads((atlas_copy / "atlas.json").read_text())
    assert all(layer["units"] == layer["renders"] == layer["examples"] == list(range(5)) for layer in manifest["layers"])
    assert '<a href="3.html">' in (atlas_copy / "conv2" / "2.html").read_text()  # the old last unit links to the new next one
    # the new units' examples are what one pass over the data gives them
    fresh = fl.examples(fashion, fashion_atlas.data, ["conv3"], k=9, limit=fashion_atlas.settings["limit"])
    record = json.loads((atlas_copy / "conv3" / "4.json").read_text())
    assert [e["item"] for e in record["examples"]["max"]] == fresh.layer("conv3").ranked["max"].indices[4].tolist()


def test_more_layers_pass_over_the_data_once_for_the_new_ones_only(fashion, fashion_atlas, atlas_copy, file_times) -> None:
    before = file_times(atlas_copy)
    reports = []
    result = rerun(fashion, fashion_atlas, atlas_copy, layers=["conv1", "conv3", "pool3"],
                   progress=lambda done, total: reports.append((done, total)))
    assert result.summary()["built"] == {"renders": 6, "examples": 6, "passes": 2}
    assert result.summary()["skipped"] == {"renders": 3, "examples": 3}
    after = file_times(atlas_copy)
    assert all(after[path] == stamp for path, stamp in before.items() if path.startswith("conv3/"))
    manifest = json.loads((atlas_copy / "atlas.json").read_text())
    assert [layer["name"] for layer in manifest["layers"]] == ["conv1", "conv2", "conv3", "pool3", "logit"]  # network order
    assert (200, 200) in reports  # one pass over the 200 entries, for conv1 and pool3 together
    assert '<a href="conv1/index.html">' in (atlas_copy / "index.html").read_text()


def test_ctrl_c_during_renders_keeps_the_finished_batches(fashion, fashion_atlas, tmp_path, file_times) -> None:
    folder = tmp_path / "atlas"
    store = AtlasStore.open(folder, fashion, fashion_atlas.data, settings=fl.AtlasSettings(steps=8, diverse=2, max_batch=4))
    calls = []

    def interrupt_in_the_second_batch(done: int, total: int) -> None:
        calls.append(done)
        if done > total / 3:  # one unit (4 images) per batch: the first of three is done
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.ensure_renders("conv2", [0, 1, 2], interrupt_in_the_second_batch)
    assert json.loads((folder / "atlas.json").read_text())["layers"][0]["renders"] == [0]
    assert store.unit("conv2", 0)["renders"]["max"] == "conv2/renders/0-max.png"
    assert store.unit("conv2", 1)["renders"]["max"] is None and not (folder / "conv2/renders/1-max.png").exists()
    kept = file_times(folder)["conv2/renders/0-max.png"]
    again = AtlasStore.open(folder, fashion, None)
    again.ensure_renders("conv2", [0, 1, 2])
    assert again.report.renders_built == 2 and again.report.renders_skipped == 1
    assert file_times(folder)["conv2/renders/0-max.png"] == kept
    assert all(again.unit("conv2", c)["renders"]["min"] for c in range(3))


def test_ctrl_c_during_the_pass_resumes_from_its_checkpoint_and_ends_as_an_uninterrupted_build(fashion, fashion_atlas, tmp_path) -> None:
    folder = tmp_path / "atlas"

    def interrupt_after_two_batches(done: int, total: int) -> None:
        if total == 200 and done >= 128:  # the pass reports entries read; 64 per batch
            raise KeyboardInterrupt

    result = rerun(fashion, fashion_atlas, folder, progress=interrupt_after_two_batches)
    assert result.interrupted and result.summary()["built"]["passes"] == 0
    assert (folder / "examples-checkpoint.pt").is_file()
    manifest = json.loads((folder / "atlas.json").read_text())
    assert all(layer["pass"] is None and layer["renders"] == [] for layer in manifest["layers"])
    assert manifest["layers"][0]["units"] == [0, 1, 2]  # the units' pages are there, saying what is not built yet
    assert "Not visualized yet" in (folder / "conv2" / "0.html").read_text()

    reports = []
    finished = rerun(fashion, fashion_atlas, folder, progress=lambda done, total: reports.append((done, total)))
    assert not finished.interrupted and finished.summary()["built"] == {"renders": 9, "examples": 9, "passes": 3}
    assert [done for done, total in reports if total == 200][0] == 192  # continued after the 128 entries done
    assert not (folder / "examples-checkpoint.pt").exists()
    for layer in fashion_atlas.layers:
        for channel in range(3):
            built = json.loads((folder / layer / f"{channel}.json").read_text())
            reference = json.loads((fashion_atlas.folder / layer / f"{channel}.json").read_text())
            # the same examples (scores to the last bits only: renders in between switch the weights to channels-last)
            for kind in ("max", "min"):
                assert [(e["item"], e["box"]) for e in built["examples"][kind]] == [(e["item"], e["box"]) for e in reference["examples"][kind]]
                assert [e["score"] for e in built["examples"][kind]] == pytest.approx([e["score"] for e in reference["examples"][kind]], rel=1e-5)
            assert built["distribution"]["counts"] == reference["distribution"]["counts"]
            assert built["distribution"]["bins"] == pytest.approx(reference["distribution"]["bins"], rel=1e-5, abs=1e-6)


def test_ctrl_c_during_projections_keeps_the_pass(fashion, fashion_atlas, tmp_path) -> None:
    folder = tmp_path / "atlas"

    def interrupt_projections(done: int, total: int) -> None:
        if total == 27:  # a layer's 3 units × 9 top examples
            raise KeyboardInterrupt

    assert rerun(fashion, fashion_atlas, folder, progress=interrupt_projections).interrupted
    manifest = json.loads((folder / "atlas.json").read_text())
    assert all(layer["pass"] is not None and layer["examples"] == [] for layer in manifest["layers"])
    finished = rerun(fashion, fashion_atlas, folder)
    assert finished.summary()["built"] == {"renders": 9, "examples": 9, "passes": 0}
