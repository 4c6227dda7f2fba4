"""Layer overviews: grids of channel visualizations across the network."""

from featurelens.overviews.build import LayerOverview, OverviewPlan, OverviewResult, default_layers, overview, plan_overview

__all__ = ["LayerOverview", "OverviewPlan", "OverviewResult", "default_layers", "overview", "plan_overview"]
