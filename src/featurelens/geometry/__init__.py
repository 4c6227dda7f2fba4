"""Geometry in one place: which input pixels a unit sees (receptive fields) and how far tiles must reach."""

from featurelens.geometry.receptive_field import ReceptiveField, global_field, receptive_fields
from featurelens.geometry.tiles import TileGeometry, tile_geometry
from featurelens.geometry.time_field import TimeField, time_fields

__all__ = ["ReceptiveField", "TileGeometry", "TimeField", "global_field", "receptive_fields", "tile_geometry", "time_fields"]
