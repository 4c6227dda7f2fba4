"""Results never mix: a rerun into a folder replaces that command's previous result as a whole; a file the user did
not name is never replaced without --force."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import featurelens as fl
from featurelens.output.folder_run import manifest_path
from featurelens.photos import bundled_photos

FAST = dict(size=28, steps=4, param="pixel", progress=False)


def _pngs(folder):
    return sorted(p.name for p in folder.glob("*.png"))


def test_two_renders_into_one_folder_leave_only_the_second(fashion, tmp_path):
    out = tmp_path / "render"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    fl.render(fashion, "conv3:0..15", **FAST).save(out)
    assert len(_pngs(out)) == 17 and (out / "contact_sheet.png").exists()

    fl.render(fashion, "conv2:5", **FAST).save(out)
    document = json.loads((out / "render.json").read_text())
    assert [u["png"] for u in document["units"]] == ["000_conv2-5.png"]
    assert _pngs(out) == ["000_conv2-5.png"]  # no stale images, no sheet of 16 other channels
    assert (out / "notes.txt").read_text() == "mine"

    fl.render(fashion, ["conv1:1", "conv1:2"], **FAST).save(out)
    assert _pngs(out) == ["000_conv1-1.png", "001_conv1-2.png", "contact_sheet.png"]
    assert [u["png"] for u in json.loads((out / "render.json").read_text())["units"]] == ["000_conv1-1.png", "001_conv1-2.png"]
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.size[0] == 2 * (112 + 4) + 4  # two 28-px tiles enlarged to 112 a row: this run's two images, not 16


def test_a_folder_from_before_the_records_is_cleaned_from_its_render_json(fashion, tmp_path):
    out = tmp_path / "render"
    fl.render(fashion, ["conv3:0", "conv3:1", "conv3:2"], **FAST).save(out)
    manifest_path(out, "render").unlink()  # as an older featurelens left it
    fl.render(fashion, "conv2:5", **FAST).save(out)
    assert _pngs(out) == ["000_conv2-5.png"]


def test_another_commands_result_in_the_folder_is_kept(fashion, tmp_path):
    fl.project(fashion, _photo_tensor(), ["conv2:1", "conv2:2"], progress=False).save(tmp_path)
    fl.render(fashion, "conv2:5", **FAST).save(tmp_path)
    fl.render(fashion, "conv2:6", **FAST).save(tmp_path)
    projected = json.loads((tmp_path / "projections.json").read_text())["projections"]
    assert all((tmp_path / entry["npy"]).exists() and (tmp_path / entry["png"]).exists() for entry in projected)
    assert sorted(p.name for p in tmp_path.glob("*conv2-5*")) == []
    assert json.loads((tmp_path / "render.json").read_text())["units"][0]["unit"] == "conv2:6"


def _photo_tensor():
    import torch

    import numpy as np

    picture = np.asarray(bundled_photos()[1].convert("L").resize((28, 28)), dtype=np.float32)
    return torch.from_numpy(picture).reshape(1, 1, 28, 28) / 255


def test_a_second_examples_run_leaves_no_stale_layer_pages(fashion, tmp_path):
    from featurelens.data import fashion_mnist
    from featurelens.dataset_examples.run import collect_examples

    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    (tmp_path / "notes.txt").write_text("mine")
    collect_examples(fashion, "fashion-mnist:test", ["conv2", "conv3"], k=2, batch_size=20, limit=40).save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("layer-*.html")) == ["layer-conv2.html", "layer-conv3.html"]
    collect_examples(fashion, "fashion-mnist:test", ["fc"], k=2, batch_size=20, limit=20).save(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("layer-*.html")) == ["layer-fc.html"]
    assert not (tmp_path / "crops" / "conv2").exists()  # conv2's crops went with its page
    assert (tmp_path / "notes.txt").exists()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    bundled_photos()[1].crop((100, 50, 164, 114)).save(path)
    return path


DREAM = ("--model", "fashion-cnn", "--objective", "conv2", "--octaves", "1", "--steps", "1", "--device", "cpu")


def test_dream_never_replaces_the_file_it_named_without_force(main_cli, photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = main_cli("dream", str(photo), *DREAM)
    assert code == 0, err
    first = (tmp_path / "photo_dream.png").read_bytes()

    code, err = main_cli("dream", str(photo), *DREAM, "--seed", "3")
    assert code == 2 and "--force" in err and "photo_dream.png" in err
    assert (tmp_path / "photo_dream.png").read_bytes() == first
    code, err = main_cli("dream", str(photo), *DREAM, "--seed", "3", "--dry-run")
    assert code == 2 and "--force" in err  # the dry run checks it too

    code, err = main_cli("dream", str(photo), *DREAM, "--seed", "3", "--force")
    assert code == 0, err
    assert "photo_dream.png" in err


def test_dream_replaces_a_file_named_with_out(main_cli, photo, tmp_path):
    out = tmp_path / "mine.png"
    out.write_bytes(b"old")
    code, err = main_cli("dream", str(photo), *DREAM, "--out", str(out))
    assert code == 0, err
    assert Image.open(out).size == (64, 64)


def test_project_never_replaces_its_default_file_without_force(main_cli, photo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ("project", str(photo), "conv3:5", "--model", "fashion-cnn", "--device", "cpu")
    assert main_cli(*args)[0] == 0
    code, err = main_cli(*args)
    assert code == 2 and "'projection.png' exists" in err and "--force" in err
    code, err = main_cli(*args, "--force")
    assert code == 0, err


def test_a_second_overview_into_the_folder_leaves_no_stale_layer(fashion, tmp_path):
    fl.overview(fashion, ["conv1", "conv2"], units_per_layer=2, steps=2, size=28, progress=False).save(tmp_path)
    assert (tmp_path / "conv1_grid.png").exists()
    fl.overview(fashion, ["conv3"], units_per_layer=2, steps=2, size=28, progress=False).save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["conv3", "conv3_grid.png", "index.html"]


def test_an_interrupted_write_is_removed_by_the_next_run(tmp_path):
    from featurelens.output.folder_run import replacing

    with pytest.raises(KeyboardInterrupt):
        with replacing(tmp_path, "render"):
            (tmp_path / "000_half.png").write_bytes(b"half")
            raise KeyboardInterrupt
    with replacing(tmp_path, "render"):
        (tmp_path / "000_whole.png").write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".featurelens-render.json", "000_whole.png"]
