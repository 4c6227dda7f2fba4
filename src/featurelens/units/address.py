"""Unit addresses: the one syntax every feature uses to name what to look at.

    LAYER:C            channel C, mean over space          _blocks.8:12
    LAYER:C@Y,X        one neuron                          _blocks.8:12@3,4
    LAYER:C@T          one neuron of a 1-D (time) layer    conv3:5@12
    LAYER:C@center     the neuron at the spatial centre    _blocks.8:12@center
    LAYER:C@cls        feature C of the class token        blocks.3:12@cls   (token layers: positions are patches)
    LAYER              the whole layer (mean squared)      _blocks.8      (the DeepDream objective)
    logit:N            a class logit                       logit:285
    logit:NAME         a class logit by name               logit:Egyptian cat   (quotes optional: logit:"Egyptian cat")
    LAYER:dir=F.npy    a direction in channel space        _blocks.8:dir=v.npy
    LAYER/NAME:F       feature F of dictionary NAME        conv3/dict:17  (attached with --dictionary FILE)
    A+B  A-B  0.5*A  -A                                    linear combinations of the above

`parse_units` turns text into a `UnitExpression`: a weighted sum of `Unit`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

from featurelens.errors import FeaturelensError

CENTER = "center"
CLS = "cls"  # a token layer's first extra token (the class token); other positions are patch-grid cells

_NUMBER = re.compile(r"\s*(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)\s*\*")
_LAYER = re.compile(r"[\w][\w.]*(?:/[A-Za-z_][\w.]*)?")  # a dictionary's features: LAYER/NAME
_INT = re.compile(r"\d+")
_POSITION = re.compile(r"(\d+)(?:\s*,\s*(\d+))?(?!\s*,)")  # Y,X on 2-D maps; T alone on 1-D maps
_DIRECTION = re.compile(r"dir=(.+?\.npy)")
_QUOTED = re.compile(r'"([^"]*)"')
# An unquoted class name runs to a '+', to a '-' after a space (so 'T-shirt/top' stays whole), or to the end.
_CLASS_NAME = re.compile(r"([^+]*?)\s*(?=\+|\s-|$)")


@dataclass(frozen=True)
class Unit:
    """One target: a layer, optionally one channel, optionally one position, or a direction."""

    layer: str
    channel: int | None = None
    position: tuple[int, ...] | str | None = None  # (y, x), (t,) on a 1-D layer, CENTER, or CLS
    direction: str | None = None  # path of a .npy vector over the layer's channels
    class_name: str | None = None  # logit given by name, resolved against the model

    def __str__(self) -> str:
        if self.direction is not None:
            return f"{self.layer}:dir={self.direction}"
        if self.class_name is not None:
            return f'{self.layer}:"{self.class_name}"'
        if self.channel is None:
            return self.layer
        text = f"{self.layer}:{self.channel}"
        if self.position in (CENTER, CLS):
            return f"{text}@{self.position}"
        if self.position is not None:
            return text + "@" + ",".join(map(str, self.position))
        return text


@dataclass(frozen=True)
class UnitExpression:
    """A weighted sum of units; composes with +, -, * scalar and unary - (Lucid-style objective algebra)."""

    terms: tuple[tuple[float, Unit], ...]

    @classmethod
    def of(cls, unit: Unit, weight: float = 1.0) -> "UnitExpression":
        return cls(((weight, unit),))

    @property
    def layers(self) -> list[str]:
        return list(dict.fromkeys(unit.layer for _, unit in self.terms))

    @property
    def is_minimization(self) -> bool:
        return all(weight < 0 for weight, _ in self.terms)

    def map_units(self, fn) -> "UnitExpression":
        return UnitExpression(tuple((w, fn(u)) for w, u in self.terms))

    def __add__(self, other: "UnitExpression") -> "UnitExpression":
        return UnitExpression(self.terms + other.terms)

    def __sub__(self, other: "UnitExpression") -> "UnitExpression":
        return self + (-other)

    def __neg__(self) -> "UnitExpression":
        return UnitExpression(tuple((-w, u) for w, u in self.terms))

    def __mul__(self, scalar: float) -> "UnitExpression":
        return UnitExpression(tuple((w * float(scalar), u) for w, u in self.terms))

    __rmul__ = __mul__

    def __str__(self) -> str:
        parts = []
        for i, (weight, unit) in enumerate(self.terms):
            sign = "-" if weight < 0 else ("+" if i else "")
            magnitude = abs(weight)
            coefficient = "" if magnitude == 1 else f"{magnitude:g}*"
            parts.append(f"{sign}{coefficient}{unit}")
        return "".join(parts)


def parse_units(text: str) -> UnitExpression:
    """Parse a unit address or a linear combination of them; errors say where and what is expected."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> FeaturelensError:
        shown = self.text[self.pos:self.pos + 20] or "end of text"
        return FeaturelensError(f"bad unit address {self.text!r}: {what} at {shown!r} (e.g. _blocks.8:12, logit:285, A+0.5*B)")

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_spaces()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern) -> re.Match | None:
        found = pattern.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def parse(self) -> UnitExpression:
        if not self.text.strip():
            raise FeaturelensError("empty unit address: give e.g. _blocks.8:12 or logit:285")
        expression = self.term(self.sign())
        while self.peek():
            char = self.peek()
            if char not in "+-":
                raise self.fail("expected + or - between units")
            expression = expression + self.term(self.sign())
        return expression

    def sign(self) -> float:
        sign = 1.0
        while self.peek() in ("+", "-") and self.peek():
            sign *= -1.0 if self.text[self.pos] == "-" else 1.0
            self.pos += 1
        return sign

    def term(self, sign: float) -> UnitExpression:
        self.skip_spaces()
        weight = sign
        number = self.match(_NUMBER)
        if number:
            weight *= float(number.group(1))
            weight *= self.sign()
        return UnitExpression.of(self.unit(), weight)

    def unit(self) -> Unit:
        self.skip_spaces()
        name = self.match(_LAYER)
        if not name:
            raise self.fail("expected a layer name")
        layer = name.group(0).rstrip(".")
        if self.peek() != ":":
            return Unit(layer)
        self.pos += 1
        if self.text.startswith("dir=", self.pos):
            found = self.match(_DIRECTION)
            if not found:
                raise self.fail("expected dir=FILE.npy")
            return Unit(layer, direction=found.group(1))
        if self.text.startswith('"', self.pos):
            found = self.match(_QUOTED)
            if not found:
                raise self.fail("unterminated quoted class name")
            if layer != "logit":
                raise self.fail("a quoted class name only goes with logit:")
            return Unit(layer, class_name=found.group(1))
        channel = self.match(_INT)
        if not channel and layer == "logit" and self.peek() not in ("", "+", "-"):
            return Unit(layer, class_name=self.match(_CLASS_NAME).group(1).strip())
        if not channel:
            raise self.fail("expected a channel number after ':'")
        if self.peek() != "@":
            return Unit(layer, int(channel.group(0)))
        self.pos += 1
        self.skip_spaces()
        for named in (CENTER, CLS):
            if self.text.startswith(named, self.pos):
                self.pos += len(named)
                return Unit(layer, int(channel.group(0)), named)
        position = self.match(_POSITION)
        if not position:
            raise self.fail("expected Y,X, 'center' or 'cls' after '@' (T alone on a 1-D layer)")
        return Unit(layer, int(channel.group(0)), tuple(int(value) for value in position.groups() if value is not None))


_RANGE = re.compile(r"^([\w][\w.]*):(\d+)\.\.(\d+)$")


def expand_unit_ranges(texts: list[str]) -> list[str]:
    """Expand `LAYER:A..B` (inclusive) into one address per channel; other addresses pass through."""
    expanded = []
    for text in texts:
        found = _RANGE.match(text.strip())
        if not found:
            expanded.append(text)
            continue
        layer, first, last = found.group(1), int(found.group(2)), int(found.group(3))
        if last < first:
            raise FeaturelensError(f"bad channel range {text!r}: the end must not be below the start, e.g. {layer}:0..15")
        expanded.extend(f"{layer}:{c}" for c in range(first, last + 1))
    return expanded


UnitsInput = Union[str, Unit, UnitExpression, Sequence[Union[str, Unit, UnitExpression]]]


def as_expressions(units: UnitsInput) -> list[UnitExpression]:
    """One address, a range (`LAYER:0..7`) or a list of them, as a list of parsed expressions."""
    items = [units] if isinstance(units, (str, Unit, UnitExpression)) else list(units)
    expressions = []
    for item in items:
        if isinstance(item, Unit):
            expressions.append(UnitExpression.of(item))
        elif isinstance(item, UnitExpression):
            expressions.append(item)
        elif isinstance(item, str):
            expressions.extend(parse_units(text) for text in expand_unit_ranges([item]))
        else:
            raise FeaturelensError(f"a unit must be an address such as '_blocks.8:12', not a {type(item).__name__}")
    if not expressions:
        raise FeaturelensError("no units given: name at least one, e.g. _blocks.8:12")
    return expressions
