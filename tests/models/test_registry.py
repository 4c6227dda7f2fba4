"""Model specs: built-ins with real weights, user files, TorchScript, and clear errors."""

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from featurelens import load_model
from featurelens.errors import FeaturelensError
from featurelens.images import center_square


def _classify(model, photo):
    image = center_square(Image.fromarray(photo), model.input_size)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        return model.module(model.normalize(x)).softmax(1)[0]


@pytest.mark.parametrize("spec, size", [("efficientnet-lite0", 224), ("efficientnet-lite1", 240), ("efficientnet-lite2", 260)])
def test_pretrained_lite_models_recognise_the_cat_and_the_espresso(spec, size):
    model = load_model(spec)
    assert model.input_size == size and model.in_channels == 3 and len(model.class_names) == 1000
    cat = _classify(model, skimage.data.chelsea())
    assert cat.argmax().item() == 285 and model.class_label(285) == "Egyptian cat"
    assert _classify(model, skimage.data.coffee()).argmax().item() == 967


@pytest.mark.filterwarnings("ignore:.*torch.jit.(script|save|load).* is deprecated:DeprecationWarning")  # a user's file
def test_user_python_file_and_torchscript(tmp_path):
    source = tmp_path / "mine.py"
    source.write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    input_size = 32\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.conv = torch.nn.Conv2d(1, 4, 3); self.head = torch.nn.Linear(4, 2)\n"
        "    def forward(self, x):\n"
        "        return self.head(self.conv(x).mean((2, 3)))\n"
        "def build():\n"
        "    torch.manual_seed(0); return Net()\n"
    )
    model = load_model(f"{source}:build")
    assert model.input_size == 32 and model.in_channels == 1
    weights = tmp_path / "w.pth"
    state = {k: torch.ones_like(v) for k, v in model.module.state_dict().items()}
    torch.save(state, weights)
    loaded = load_model(f"{source}:build:{weights}")
    assert torch.equal(loaded.module.conv.weight, torch.ones(4, 1, 3, 3))
    scripted = tmp_path / "net.pt"
    torch.jit.save(torch.jit.script(model.module), scripted)
    again = load_model(str(scripted))
    x = torch.randn(1, 1, 32, 32)
    assert torch.allclose(again.module(x), model.module(x))
    with pytest.raises(FeaturelensError, match="has no factory 'buld'; close names: build"):
        load_model(f"{source}:buld")
    bad_weights = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.ones(1)}, bad_weights)
    with pytest.raises(FeaturelensError, match="do not fit model"):
        load_model(f"{source}:build:{bad_weights}")
