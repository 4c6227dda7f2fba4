"""`featurelens map` on the command line and with awkward input: hostile text is shown as text, mistakes are one line."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from featurelens.activation_map import map_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.data.sources import TensorSource

HOSTILE = "<script>alert(1)</script>"


def test_a_hostile_class_name_and_data_path_are_shown_as_text(fashion, tmp_path) -> None:
    folder = tmp_path / HOSTILE.replace("/", "|")
    folder.mkdir()
    images, _ = load_fashion_mnist("test")
    for i in range(40):
        Image.fromarray(np.asarray(images[i])).save(folder / f"<img src=x onerror=alert({i})>.png")
    classes = list(fashion.class_names)
    classes[1] = HOSTILE
    hostile = replace(fashion, class_names=classes, data=None)  # held against the bundled photos: quick
    result = map_activations(hostile, "conv3", folder, positions=4, grid=4, min_count=2, steps=2, examples=2,
                            class_name=HOSTILE, progress=False)
    index = result.save(tmp_path / "out")
    pages = [index.read_text()] + [page.read_text() for page in (tmp_path / "out" / "cells").glob("*.html")]
    assert result.cells and len(pages) == 1 + len(result.cells)
    assert all("<script>alert" not in page and "<img src=x" not in page for page in pages)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert any("&lt;img src=x onerror=alert(" in page for page in pages[1:])


def test_the_dry_run_says_how_many_render_batches_at_most(main_cli, tmp_path) -> None:
    code, err = main_cli("map", "-m", "fashion-cnn", "--layer", "conv3", "--data", "fashion-mnist:test", "--grid", "10",
                         "--class", "Trouser", "--out", str(tmp_path / "map"), "--dry-run")
    assert code == 0, err
    assert "at most 100 cells in at most 2 batch(es) of 64" in main_cli.out and "class 'Trouser'" in main_cli.out
    assert not (tmp_path / "map").exists()


def test_mistakes_are_one_line_errors(main_cli, tmp_path) -> None:
    base = ["map", "-m", "fashion-cnn", "--data", "fashion-mnist:test", "--out", str(tmp_path / "map"), "--dry-run"]
    for extra, expected in ((["--layer", "conv9"], "unknown layer 'conv9'"), (["--layer", "conv3", "--class", "Trousers"], "unknown class name"),
                            (["--layer", "conv3", "--grid", "0"], "--grid must be positive"),
                            (["--layer", "conv3", "--data", str(tmp_path / "none")], "not found")):
        code, err = main_cli(*base, *extra)
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_the_command_writes_the_map_with_a_dictionary_file_placed(main_cli, centre_dictionary, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FEATURELENS_QUICK", "1")  # 8 inputs in a 4×4 grid, 2 steps: the command's whole path, quickly
    dictionary = centre_dictionary.save(tmp_path / "conv3-dict.pt")
    out = tmp_path / "map"
    code, err = main_cli("map", "-m", "fashion-cnn", "-l", "conv3", "-d", "fashion-mnist:test", "--dictionary", str(dictionary),
                         "--out", str(out))
    assert code == 0, err
    summary = json.loads((out / "map.json").read_text())
    assert summary["dictionary"] == "conv3/dict" and len(summary["features"]) == 12 and summary["points"] == 8
    assert summary["render_batches"] == 1 and len(summary["cells"]) == len(list((out / "renders").glob("*.png"))) > 0
    assert f"wrote {out / 'index.html'}" in err
    code, err = main_cli("map", "-m", "fashion-cnn", "-l", "conv2", "-d", "fashion-mnist:test", "--dictionary", str(dictionary),
                         "--dry-run")
    assert code == 2 and "learned over layer 'conv3'" in err and len(err.strip().splitlines()) == 1, err


def test_ctrl_c_while_sampling_lays_out_what_was_read_and_renders_nothing(fashion) -> None:
    images, _ = load_fashion_mnist("test")

    class Interrupted(TensorSource):
        def batches(self, *args):
            for number, batch in enumerate(super().batches(*args)):
                if number == 2:
                    raise KeyboardInterrupt
                yield batch

    source = Interrupted(torch.as_tensor(np.asarray(images[:1000])), "interrupted")
    result = map_activations(fashion, "conv3", source, positions=2, batch_size=64, grid=4, min_count=2, progress=False)
    assert result.interrupted and len(result.points) == 2 * 128 and result.points.inputs == 128
    assert result.cells and all(cell.render is None for cell in result.cells) and result.render_batches == 0
