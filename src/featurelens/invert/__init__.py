"""The trained backward network: a decoder that turns one layer's activations back into the image."""

from featurelens.invert.decoder import Decoder
from featurelens.invert.inverter import Inverter, inverter_from_checkpoint, load_inverter, new_inverter, shipped_inverter_path
from featurelens.invert.show import UnitDecode, decode_unit, keep_unit
from featurelens.invert.train import TrainResult, TrainSettings, train_inverter

__all__ = [
    "Decoder", "Inverter", "TrainResult", "TrainSettings", "UnitDecode", "decode_unit", "inverter_from_checkpoint",
    "keep_unit", "load_inverter", "new_inverter", "shipped_inverter_path", "train_inverter",
]
