"""Models: the registry of specs and the `LoadedModel` wrapper."""

from featurelens.models.loaded import LoadedModel
from featurelens.models.registry import DEFAULT_MODEL, load_model

__all__ = ["DEFAULT_MODEL", "LoadedModel", "load_model"]
