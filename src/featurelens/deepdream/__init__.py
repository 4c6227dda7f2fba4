"""DeepDream: amplify what a layer sees in a photo, octave by octave, with gradients computed tile by tile."""

from featurelens.deepdream.deepdream import DreamPlan, DreamSettings, dream, octave_sizes, plan_dream
from featurelens.deepdream.objective import DreamObjective
from featurelens.deepdream.result import DreamResult, OctaveTrace
from featurelens.deepdream.tiles import TiledGradient

__all__ = [
    "DreamObjective", "DreamPlan", "DreamResult", "DreamSettings", "OctaveTrace", "TiledGradient",
    "dream", "octave_sizes", "plan_dream",
]
