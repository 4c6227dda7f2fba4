"""DeepDream: amplify what a layer sees in a photo, octave by octave, with gradients computed tile by tile."""

from featurelens.dream.deepdream import DreamSettings, default_objective, dream, octave_sizes
from featurelens.dream.objective import DreamObjective, LayerWindow
from featurelens.dream.result import DreamResult, OctaveTrace
from featurelens.dream.tiles import TiledGradient

__all__ = [
    "DreamObjective", "DreamResult", "DreamSettings", "LayerWindow", "OctaveTrace", "TiledGradient",
    "default_objective", "dream", "octave_sizes",
]
