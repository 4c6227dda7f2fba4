"""Unit addresses (parsed in one place), their validation against a model, their values and masks."""

from featurelens.units.address import CENTER, Unit, UnitExpression, UnitsInput, as_expressions, expand_unit_ranges, parse_units
from featurelens.units.masks import keep_unit
from featurelens.units.resolve import resolve_expression, resolve_unit, single_unit
from featurelens.units.values import LayerWindow, PerImageTargets, expression_value, layers_needed, unit_value

__all__ = [
    "CENTER", "LayerWindow", "Unit", "UnitExpression", "UnitsInput", "as_expressions", "expand_unit_ranges", "expression_value", "keep_unit",
    "PerImageTargets", "layers_needed", "parse_units", "resolve_expression", "resolve_unit", "single_unit", "unit_value",
]
