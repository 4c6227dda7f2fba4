"""Projections: map one unit of one image back to input space (deconvnet, guided backprop, gradient)."""

from featurelens.project.backproject import backproject, project_batch
from featurelens.project.projection import Projection, load_model_image, project, resolve_projection_unit
from featurelens.project.rectifiers import METHODS, check_method, rectifier_backward

__all__ = [
    "METHODS", "Projection", "backproject", "check_method", "load_model_image", "project", "project_batch",
    "rectifier_backward", "resolve_projection_unit",
]
