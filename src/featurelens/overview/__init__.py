"""Layer overviews: grids of channel visualizations across the network."""

from featurelens.overview.build import LayerOverview, build_overview, default_layers

__all__ = ["LayerOverview", "build_overview", "default_layers"]
