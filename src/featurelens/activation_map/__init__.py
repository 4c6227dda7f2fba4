"""The activation atlas (Carter et al. 2019): one layer's activations over many inputs laid out in 2-D, gridded, and
each cell's mean activation rendered, with its examples, a class view and a dictionary's features on the map."""

from featurelens.activation_map.plan import MapPlan, map_activations, plan_map
from featurelens.activation_map.result import MapCell, MapResult, PlacedFeature
from featurelens.activation_map.settings import MapSettings

__all__ = ["MapCell", "MapPlan", "MapResult", "MapSettings", "PlacedFeature", "map_activations", "plan_map"]
