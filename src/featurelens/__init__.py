"""featurelens: see what each unit of a trained PyTorch network responds to."""

from featurelens.errors import FeaturelensError
from featurelens.models import LoadedModel, load_model
from featurelens.render import RenderSettings, render
from featurelens.units import parse_units

__all__ = ["FeaturelensError", "LoadedModel", "RenderSettings", "load_model", "parse_units", "render"]
__version__ = "0.1.0"
