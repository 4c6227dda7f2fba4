"""Dictionaries installed with featurelens, by name: `--dictionary fashion-cnn:conv3` reads the shipped file.

Each was trained by a script in `scripts/` (named beside it) that retrains it deterministically.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights"
SHIPPED = {
    "fashion-cnn:conv3": "fashion_cnn_conv3_dict.pt",  # scripts/train_fashion_cnn_dictionary.py
}


def shipped_dictionary(name: str) -> Path | None:
    """The installed file of the shipped dictionary `name` (None when `name` is no shipped dictionary's)."""
    file = SHIPPED.get(str(name).strip())
    return WEIGHTS / file if file else None
