"""Activation maximization: objectives from unit addresses, parameterizations, transforms, the loop."""

from featurelens.rendering.optimize import RenderPlan, RenderSettings, plan_render, render
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.transforms import RobustnessTransform

__all__ = [
    "RenderPlan", "RenderResult", "RenderSettings", "RenderedUnit", "Regularizers", "RobustnessTransform", "plan_render", "render",
]
