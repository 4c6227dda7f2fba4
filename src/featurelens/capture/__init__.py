"""Capturing activations: the one place that runs a model up to a layer, and the one dry run that learns its shapes."""

from featurelens.capture.activations import ActivationCapture, capture_activations
from featurelens.capture.layers import LOGIT, LayerInfo, find_layer, unknown_layer_message
from featurelens.capture.probe import Probe, SpatialCall, list_layers, lowest_values, mid_layer, probe

__all__ = [
    "LOGIT", "ActivationCapture", "LayerInfo", "Probe", "SpatialCall", "capture_activations", "find_layer",
    "list_layers", "lowest_values", "mid_layer", "probe", "unknown_layer_message",
]
