"""The render, layers and overview commands end to end, and their one-line errors."""

import importlib.util
import json
import sys

import pytest

_absent = lambda package: pytest.mark.skipif(importlib.util.find_spec(package) is not None, reason=f"{package} is installed")
from PIL import Image

from tests.conftest import as_in_a_terminal


@pytest.mark.parametrize(
    "args, message",
    [
        (["render", "--model", "efficientnet-lite9", "_blocks.8:1"], "unknown model spec 'efficientnet-lite9': did you mean"),
        (["render", "_blokcs.8:1"], "unknown layer '_blokcs.8'; closest: _blocks.8"),
        (["render", "_blocks.8:500"], "channel 500 out of range for layer '_blocks.8': valid channels are 0..111"),
        (["render", "--size", "16", "_blocks.8:1"], "--size 16 is below the minimum input size 32"),
        (["render", "--steps", "0", "_blocks.8:1"], "--steps must be positive"),
        (["render", "--steps", "-5", "_blocks.8:1"], "--steps must be positive"),
        (["render", "_blocks.8:1@"], "expected Y,X, 'center' or 'cls'"),
        pytest.param(["render", "--model", "torchvision:resnet18", "layer1:0"], "needs the torchvision package: pip install 'featurelens[torchvision]'", marks=_absent("torchvision")),
        pytest.param(["render", "--model", "timm:resnet18", "layer1:0"], "needs the timm package", marks=_absent("timm")),
        (["layers", "--model", "missing_file.py:build"], "model file 'missing_file.py' not found"),
        (["overview", "--layers", "_blocks.99"], "unknown layer '_blocks.99'"),
        (["examples", "--data", "[my data]", "--layers", "conv2", "--model", "fashion-cnn"], "data source '[my data]' not found"),
        (["render", "--model", "[model].py:build", "x:1"], "model file '[model].py' not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(featurelens_cli, args, message):
    done = featurelens_cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert message in lines[0]


def test_messages_with_brackets_print_intact(main_cli, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # as where timm is not installed (CI installs it)
    code, err = main_cli("render", "--model", "timm:resnet18", "layer1:0")
    assert code == 2 and err.strip().endswith("pip install 'featurelens[timm]'")


@pytest.mark.parametrize(
    "args",
    [
        ["render", "conv3:0..3", "--model", "fashion-cnn", "--size", "28"],
        ["overview", "--model", "fashion-cnn", "--size", "28"],
        ["examples", "--data", "fashion-mnist:test", "--layers", "conv2", "--model", "fashion-cnn", "--project", "guided"],
    ],
)
def test_dry_run_checks_says_what_would_run_and_writes_nothing(main_cli, capsys, tmp_path, args) -> None:
    out = tmp_path / "out"
    code, err = main_cli(*args, "--out", str(out), "--dry-run")
    assert code == 0, err
    assert not out.exists()


def test_dry_run_still_refuses_bad_input(main_cli, tmp_path) -> None:
    code, err = main_cli("render", "conv3:500", "--model", "fashion-cnn", "--size", "28", "--dry-run")
    assert code == 2 and "valid channels are 0..127" in err
    (tmp_path / "file").write_text("x")
    code, err = main_cli("render", "conv3:1", "--model", "fashion-cnn", "--out", str(tmp_path / "file"), "--dry-run")
    assert code == 2 and "is a file: --out needs a folder" in err


def test_dry_run_names_the_data_each_image_is_held_against_and_a_missing_one_is_one_line(main_cli, tmp_path) -> None:
    code, err = main_cli("render", "conv3:4", "--model", "fashion-cnn", "--dry-run")
    assert code == 0 and "held against fashion-mnist:test, rendering again the ones below it" in main_cli.out
    assert "fixed cost before the first step: best of the bundled photos at 28 px:" in main_cli.out
    code, err = main_cli("render", "conv3:4", "--model", "fashion-cnn", "--data", "photos", "--no-retry", "--dry-run")
    assert code == 0 and "held against the bundled photos;" in main_cli.out
    code, err = main_cli("render", "conv3:4", "--model", "fashion-cnn", "--data", str(tmp_path / "nowhere"), "--dry-run")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not found" in err


def test_render_writes_pngs_contact_sheet_and_json(featurelens_cli, tmp_path):
    done = featurelens_cli("render", "--model", "fashion-cnn", "--size", "28", "--steps", "32", "--out", str(tmp_path), "conv3:0..2", "logit:\"Sneaker\"")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "render.json").read_text())
    units = summary["units"]
    assert [u["unit"] for u in units] == ["conv3:0", "conv3:1", "conv3:2", "logit:7"]
    for unit in units:
        assert set(unit) >= {"unit", "png", "objective", "activation", "robust_activation", "natural_max"}
        assert Image.open(tmp_path / unit["png"]).size == (28, 28)
    assert summary["seconds"] > 0
    assert Image.open(tmp_path / "contact_sheet.png").size[0] > 28 * 2


def test_layers_json_lists_names_types_shapes(featurelens_cli):
    done = featurelens_cli("layers", "--model", "fashion-cnn", "--json")
    assert done.returncode == 0, done.stderr
    layers = json.loads(done.stdout)
    assert layers[0] == {"name": "conv1", "type": "Conv2d", "shape": [32, 28, 28], "layout": "map 28×28", "channels": 32}
    assert [entry["name"] for entry in layers][-2:] == ["fc", "logit"]


def test_overview_writes_one_grid_per_layer_and_a_page(featurelens_cli, tmp_path):
    done = featurelens_cli("overview", "--model", "fashion-cnn", "--size", "28", "--steps", "16", "--units-per-layer", "4", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "index.html").read_text()
    for layer in ("conv1", "conv2", "conv3"):  # first to last convolution
        assert (tmp_path / f"{layer}_grid.png").is_file()
        assert page.index(f'id="{layer}"') >= 0
    assert page.index('id="conv1"') < page.index('id="conv2"') < page.index('id="conv3"')
    for src in __import__("re").findall(r'src="([^"]+)"', page):
        assert (tmp_path / src).is_file()


def test_ctrl_c_stops_cleanly_and_keeps_the_images(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    code = "from featurelens.cli.app import main; main()"
    args = ["render", "--model", "fashion-cnn", "--size", "28", "--steps", "1000000", "--out", str(tmp_path), "conv3:0", "conv3:1"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_in_a_terminal,
    )
    time.sleep(10)  # start-up, then some optimisation steps
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    summary = json.loads((tmp_path / "render.json").read_text())
    assert summary["interrupted"] is True and 0 < summary["steps"] < 1000000
    assert len(summary["units"]) == 2 and all((tmp_path / u["png"]).is_file() for u in summary["units"])
