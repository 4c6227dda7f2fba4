"""The table of built-in model names. Model files register themselves with `register_model`; this module imports none of them."""

from __future__ import annotations

from typing import Callable

from featurelens.models.loaded import LoadedModel

Factory = Callable[[], LoadedModel]
_FACTORIES: dict[str, Factory] = {}


def register_model(name: str) -> Callable[[Factory], Factory]:
    """Decorator: make a zero-argument factory loadable by the spec `name`."""

    def decorate(factory: Factory) -> Factory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def registered_factory(name: str) -> Factory | None:
    return _FACTORIES.get(name)


def registered_names() -> list[str]:
    return sorted(_FACTORIES)
