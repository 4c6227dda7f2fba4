"""`featurelens invert train|show` end to end through the real entry point (in-process), and their one-line errors."""

from __future__ import annotations


import pytest
import torch
from PIL import Image

from featurelens.data import fashion_mnist
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.invert import shipped_inverter_path

pytestmark = pytest.mark.skipif(not fashion_mnist.dataset_dir().is_dir(), reason="apt-get install dataset-fashion-mnist")




@pytest.fixture(scope="module")
def sneaker(tmp_path_factory):
    images, _ = load_fashion_mnist("test")
    path = tmp_path_factory.mktemp("invert") / "item.png"
    Image.fromarray(images[0].numpy()).save(path)
    return path


def test_show_writes_input_and_decode_side_by_side(main_cli, sneaker, tmp_path) -> None:
    out = tmp_path / "unit.png"
    code, err = main_cli("invert", "show", str(sneaker), "pool2:10@center", "--out", str(out))
    assert code == 0, err
    sheet = Image.open(out)
    assert sheet.width > 3 * 224 and sheet.height > 224
    code, err = main_cli("invert", "show", str(sneaker), "pool2", "--out", str(tmp_path / "all.png"))
    assert code == 0 and (tmp_path / "all.png").is_file()


def test_train_writes_a_checkpoint_dict(main_cli, tmp_path) -> None:
    out = tmp_path / "tiny.pt"
    code, err = main_cli("invert", "train", "--model", "fashion-cnn", "--layer", "pool3", "--data", "fashion-mnist:test",
                    "--limit", "256", "--epochs", "1", "--width", "16", "--out", str(out))
    assert code == 0, err
    state = torch.load(out, weights_only=True)
    assert state["model_spec"] == "fashion-cnn" and state["layer"] == "pool3" and state["layer_shape"] == [128, 3, 3]
    assert state["config"]["epochs_done"] == 1 and "--limit 256" in state["config"]["command"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["show", "{image}", "pool1:3"], "inverter decodes layer 'pool2', not 'pool1'"),
        (["show", "{image}", "pool2:3", "--model", "efficientnet-lite0", "--inverter", "{shipped}"], "trained for model 'fashion-cnn', not 'efficientnet-lite0'"),
        (["show", "{image}", "_blocks.8:3", "--model", "efficientnet-lite0"], "no inverter ships for model 'efficientnet-lite0'"),
        (["show", "{image}", "pool2:3", "--inverter", "{bad}"], "not a PyTorch checkpoint"),
        (["show", "{bad}", "pool2:3"], "cannot read image"),
        (["show", "{image}", "pool2:99"], "channel 99 out of range"),
        (["show", "{image}", "pool2:1+pool2:2"], "one unit or layer at a time"),
        (["train", "--model", "fashion-cnn", "--layer", "pool9", "--data", "fashion-mnist:train"], "unknown layer 'pool9'"),
        (["train", "--model", "fashion-cnn", "--layer", "pool2", "--data", "fashion-mnist:val"], "unknown built-in source"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(main_cli, sneaker, fashion, tmp_path, args, message) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not an image, not a checkpoint")
    filled = [a.format(image=sneaker, bad=bad, shipped=shipped_inverter_path(fashion)) for a in args]
    code, err = main_cli("invert", *filled)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
