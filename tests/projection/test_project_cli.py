"""`featurelens project`: writes the PNG / .npy the API computes, and every user mistake exits 2 with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from featurelens.projection import load_model_image, project, projection_picture




@pytest.fixture()
def fashion_png(tmp_path: Path, fashion_images: torch.Tensor) -> Path:
    path = tmp_path / "ankle_boot.png"
    Image.fromarray((fashion_images[0, 0].numpy() * 255).round().astype(np.uint8)).save(path)
    return path


def test_writes_npy_equal_to_the_api_and_a_png_of_it(main_cli, tmp_path, fashion, fashion_png) -> None:
    npy, png = tmp_path / "p.npy", tmp_path / "out" / "p.png"
    code, err = main_cli("project", str(fashion_png), "relu3:80", "--model", "fashion-cnn", "--out", str(npy), "--device", "cpu")
    assert code == 0 and "wrote" in err and "relu3:80@" in err
    expected = project(fashion, load_model_image(fashion, fashion_png), "relu3:80")
    array = np.load(npy)
    assert array.shape == (1, 28, 28) and array.dtype == np.float32
    assert np.abs(array - expected.array).max() <= 1e-5 * np.abs(expected.array).max()  # same up to the layout the model ran in
    code, _ = main_cli("project", str(fashion_png), "relu3:80", "--model", "fashion-cnn", "--out", str(png), "--method", "guided")
    picture = np.asarray(Image.open(png))
    assert code == 0 and picture.shape == (28, 28)
    guided = project(fashion, load_model_image(fashion, fashion_png), "relu3:80", "guided").array
    assert np.abs(picture.astype(int) - projection_picture(guided)[:, :, 0]).max() <= 1


def test_png_is_centred_at_grey_and_scaled_by_a_robust_spread() -> None:
    rng = np.random.default_rng(0)
    array = rng.normal(size=(3, 40, 40)).astype(np.float32) * 0.01
    array[0, 0, 0] = 50.0  # one extreme pixel must not leave everything else a faint grey
    picture = projection_picture(array)
    assert picture.shape == (40, 40, 3) and picture.dtype == np.uint8
    assert picture.std() > 40  # visible contrast: the old max-|value| scaling gave a std of ~0
    saturated = ((picture == 0) | (picture == 255)).mean()
    assert 0.002 < saturated < 0.02  # the strongest ~0.5 % saturate
    assert abs(float(np.median(picture)) - 127.5) < 3  # the median sits at mid-grey
    assert (projection_picture(np.zeros((1, 2, 2), np.float32)) == 128).all()
    sparse = np.zeros((1, 100, 100), np.float32)
    sparse[0, :2, :2] = [[1.0, -2.0], [0.5, 4.0]]  # signal on fewer pixels than the percentile covers
    assert projection_picture(sparse).max() == 255


def test_loaded_image_is_the_centre_square_at_the_model_size(tmp_path, fashion) -> None:
    wide = np.zeros((56, 112), dtype=np.uint8)
    wide[:, 28:84] = 255  # only the centre square is white
    Image.fromarray(wide).save(tmp_path / "wide.png")
    image = load_model_image(fashion, tmp_path / "wide.png")
    assert image.shape == (1, 1, 28, 28) and image.min() > 0.99


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "conv3:5"], "not found"),
        (["{unreadable}", "conv3:5"], "cannot read image"),
        (["{image}", "conv9:5"], "closest: conv"),
        (["{image}", "conv3:500"], "valid channels are 0..127"),
        (["{image}", "conv3:5@9,9"], "out of range"),
        (["{image}", "conv3"], "needs a channel"),
        (["{image}", "conv3:5+conv3:6"], "one unit"),
        (["{image}", "conv3:5", "--method", "deconv"], "use deconvnet, guided, gradient"),
        (["{image}", "conv3:5", "--out", "{tmp}/p.jpg"], "end --out with .png"),
        (["{image}", "conv3:5", "conv3:6", "--out", "{tmp}/p.png"], "2 projections need a folder"),
    ],
)
def test_mistakes_exit_2_with_one_line(main_cli, tmp_path, fashion_png, args, message) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    names = {"missing": tmp_path / "absent.png", "unreadable": tmp_path / "notes.png", "image": fashion_png, "tmp": tmp_path}
    filled = [a.format(**names) for a in args]
    out = tmp_path / "projection.png"
    if "--out" not in filled:
        filled += ["--out", str(out)]
    code, err = main_cli("project", *filled, "--model", "fashion-cnn")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err
    assert not out.exists()
