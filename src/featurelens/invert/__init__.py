"""The trained backward network: a decoder that turns one layer's activations back into the image.

`train(model, layer, data)` and `decode(model, images, units)` are the two verbs.
"""

from featurelens.invert.api import DecodePlan, TrainingPlan, decode, plan_decode, plan_training, train
from featurelens.invert.decoder import Decoder
from featurelens.invert.decoding import DecodeResult, UnitDecode, decode_unit
from featurelens.invert.inverter import Inverter, inverter_from_checkpoint, load_inverter, new_inverter, shipped_inverter_path
from featurelens.invert.training import TrainResult, TrainSettings, train_inverter

__all__ = [
    "DecodePlan", "DecodeResult", "Decoder", "Inverter", "TrainResult", "TrainSettings", "TrainingPlan", "UnitDecode",
    "decode", "decode_unit", "inverter_from_checkpoint", "load_inverter", "new_inverter", "plan_decode",
    "plan_training", "shipped_inverter_path", "train", "train_inverter",
]
