"""The shipped weight files never change silently: each matches its recorded SHA-256, and no file comes or goes unrecorded.

Changing a shipped model on purpose means retraining outside the package (`scripts/train_*.py --out …`), copying the
checked file over the shipped one by hand, and updating its hash here in the same commit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

import featurelens

PACKAGE = Path(featurelens.__file__).resolve().parent
SHIPPED_SHA256 = {
    "audio/weights/music_cnn.pt": "e458a1651f7da6c908a24083d3c90f0e3cfddbfca0f0171b9fb5ca41091f8648",
    "models/weights/fashion_cnn_conv3_dict.pt": "e6229671f90392cb753e6dfc0fcf6d49faaadb48cc8197dde83cf14a8a5bcea8",
    "models/weights/fashion_cnn.pt": "f3286beed784d3ba103771d2db1d45cf0f4f48fd7c22a6638c081408271e4e70",
    "models/weights/fashion_cnn_pool2_inverter.pt": "96afceb29aea46cf5c7d25a429ff5299df7dab17b7388faa8645610cb15dc372",
    "models/weights/fashion_cnn_seed1.pt": "58d19f58175252c2b8477038b52b784cc0117bad6b532e6c1a8f8bb6f122cbd9",
    "models/weights/fashion_cnn_training/step0000.pt": "86dae03d1166e3096cdb2aa97d0d15c8f22480749bbc69d82d2f2f8f75641216",
    "models/weights/fashion_cnn_training/step0010.pt": "01805ce82f7da5b7a37d3c65d75e49c30e811e3ce5322e2c69688ae736231000",
    "models/weights/fashion_cnn_training/step0040.pt": "80714237e4ddfd004540a5f450f961b01a261967f45519f9d576a7938265338f",
    "models/weights/fashion_cnn_training/step0150.pt": "f86ac09159d824bc23cb9846e74b5b8de169c875099aa1ca429dace3f17406e6",
    "models/weights/fashion_cnn_training/step0300.pt": "0f6b0117bb80251c50679ab561e86b902e6db0487ac3cad5d975236d2b3747f2",
    "models/weights/fashion_cnn_training/step0469.pt": "6f98e71f953202913ba604577213b58e9aa2f8cf75ef87705138cd9ed50741e4",
    "models/weights/fashion_cnn_training/step0938.pt": "00d90934d80e37522c163b349e9b2d6ecfc796c19a4f846021209a0f538561da",
    "models/weights/fashion_vit.pt": "c43f35005648f48423fd6db73b0fb260d4ea79cc818753c6e7df94d1b98f62cb",
    "models/weights/fashion_vit_training/step0000.pt": "e6a1822973a64d2e86fbb034a2a661a506410c048dbce294f04a3990ef5efe48",
    "models/weights/fashion_vit_training/step0050.pt": "78d60ee60c1a90e7aeca94a078e4fb2507693cd8955debfa1a039b35fe668274",
    "models/weights/fashion_vit_training/step0300.pt": "54bbc6af33c21aa946e3dd69da45aef58c962c93479d0b99565ac6943592f427",
    "models/weights/fashion_vit_training/step0938.pt": "da6f018e68e74afec41885b310ea3a3af95529acb9ae8f963045a1ae092aed89",
    "models/weights/fashion_vit_training/step5628.pt": "24a8f9adddb19cc8cc2982a9dba6136c8973f74d3b5472646a6afc1e173b3c8d",
}

VIT_LAST_CHECKPOINT, VIT_LAST_LABEL = "step5628.pt", "epoch 6"  # the end of fashion-vit's training


def shipped_weight_files() -> dict[str, str]:
    """Every file under a `weights/` folder of the package → its SHA-256."""
    return {path.relative_to(PACKAGE).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(PACKAGE.rglob("*")) if path.is_file() and "weights" in path.relative_to(PACKAGE).parts}


def test_shipped_weights_match_their_recorded_hashes() -> None:
    assert shipped_weight_files() == SHIPPED_SHA256


@pytest.mark.parametrize("model, last_checkpoint, label", [
    ("fashion_cnn", "step0938.pt", "epoch 2"),
    ("fashion_vit", VIT_LAST_CHECKPOINT, VIT_LAST_LABEL),
])
def test_the_last_training_checkpoint_is_the_shipped_model_float_for_float(model: str, last_checkpoint: str, label: str) -> None:
    shipped = torch.load(PACKAGE / f"models/weights/{model}.pt", weights_only=True)
    last = torch.load(PACKAGE / f"models/weights/{model}_training/{last_checkpoint}", weights_only=True)
    assert last["label"] == label and shipped.keys() == last["state_dict"].keys()
    assert all(torch.equal(shipped[name], last["state_dict"][name]) for name in shipped)


def test_fashion_vit_ships_in_3_5_mb_with_its_checkpoints() -> None:
    files = [PACKAGE / "models/weights/fashion_vit.pt", *(PACKAGE / "models/weights/fashion_vit_training").glob("*.pt")]
    assert len(files) == 6 and sum(path.stat().st_size for path in files) < 3.5e6
