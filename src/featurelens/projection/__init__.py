"""Projections: map units of images back to input space (deconvnet, guided backprop, gradient), batched; and
their sanity check (`best_projection`: the method that passes it best on a model)."""

from featurelens.projection.backproject import backproject, project_batch
from featurelens.projection.pictures import projection_picture, projection_pictures
from featurelens.projection.projection import ProjectionPlan, load_model_image, plan_projection, project
from featurelens.projection.rectifiers import METHODS, check_method, rectifier_backward
from featurelens.projection.result import ProjectionResult
from featurelens.projection.sanity import SanityResult, best_projection, sanity_scores

__all__ = [
    "METHODS", "ProjectionPlan", "ProjectionResult", "SanityResult", "backproject", "best_projection", "check_method", "load_model_image", "plan_projection",
    "project", "project_batch", "projection_picture", "projection_pictures", "rectifier_backward", "sanity_scores",
]
