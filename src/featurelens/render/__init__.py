"""Activation maximization: objectives from unit addresses, parameterizations, transforms, the loop."""

from featurelens.render.optimize import RenderSettings, render
from featurelens.render.regularizers import Regularizers
from featurelens.render.result import RenderedUnit, RenderResult
from featurelens.render.transforms import RobustnessTransform

__all__ = ["RenderResult", "RenderSettings", "RenderedUnit", "Regularizers", "RobustnessTransform", "render"]
