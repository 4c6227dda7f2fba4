"""Unit addresses (parsed in one place) and their values on captured activations."""

from featurelens.units.address import Unit, UnitExpression, parse_units
from featurelens.units.objective import expression_value, resolve_expression, unit_value

__all__ = ["Unit", "UnitExpression", "expression_value", "parse_units", "resolve_expression", "unit_value"]
