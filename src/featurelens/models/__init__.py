"""Models: `load_model(spec)` and the `LoadedModel` wrapper that carries a model's conventions and knowledge."""

from featurelens.models.factory import DEFAULT_MODEL, list_models, load_model, model_for
from featurelens.models.loaded import LoadedModel, weights_digest

__all__ = ["DEFAULT_MODEL", "LoadedModel", "list_models", "load_model", "model_for", "weights_digest"]
