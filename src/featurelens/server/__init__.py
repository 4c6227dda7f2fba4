"""`featurelens serve`: the live toolbox in the browser (and the atlas, when given).

Names are imported on first use (PEP 562): every `featurelens` command imports this package for `serve`'s options,
and only `serve` itself should pay for FastAPI."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from featurelens.server.app import create_app
    from featurelens.server.limits import ServerLimits
    from featurelens.server.serve import ServePlan, plan_serve

# The function `serve` is not among them: once its module is imported, `featurelens.server.serve` is that module.
_HOME = {"create_app": "app", "ServerLimits": "limits", "ServePlan": "serve", "plan_serve": "serve"}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
