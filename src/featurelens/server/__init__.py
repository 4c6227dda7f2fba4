"""`featurelens serve`: the live toolbox in the browser (and the atlas, when given)."""

from featurelens.server.app import create_app
from featurelens.server.limits import ServerLimits
from featurelens.server.serve import ServePlan, plan_serve, serve

__all__ = ["ServerLimits", "ServePlan", "create_app", "plan_serve", "serve"]
