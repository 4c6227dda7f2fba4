"""Activation maximization: objectives from unit addresses, parameterizations, transforms, the loop, judges."""

from featurelens.rendering.judging import Judgement, judge_images
from featurelens.rendering.optimize import RenderPlan, RenderSettings, plan_render, render
from featurelens.rendering.regularizers import Regularizers
from featurelens.rendering.result import RenderedUnit, RenderResult
from featurelens.rendering.sizes import AUTO, SizeChoice
from featurelens.rendering.transforms import RobustnessTransform

__all__ = [
    "AUTO", "Judgement", "RenderPlan", "RenderResult", "RenderSettings", "RenderedUnit", "Regularizers", "RobustnessTransform",
    "SizeChoice", "judge_images", "plan_render", "render",
]
