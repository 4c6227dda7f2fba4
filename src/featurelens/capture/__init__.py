"""Capturing activations: the one place that runs a model up to a layer."""

from featurelens.capture.activations import ActivationCapture, capture_activations
from featurelens.capture.layers import LOGIT, LayerInfo, find_layer, list_layers

__all__ = ["LOGIT", "ActivationCapture", "LayerInfo", "capture_activations", "find_layer", "list_layers"]
