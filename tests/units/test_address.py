"""The unit-address parser: every form, every combination and every error."""

import pytest

from featurelens.errors import FeaturelensError
from featurelens.units.address import CENTER, Unit, expand_unit_ranges, parse_units


@pytest.mark.parametrize(
    "text, terms",
    [
        ("_blocks.8:12", [(1.0, Unit("_blocks.8", 12))]),
        ("_blocks.8:12@3,4", [(1.0, Unit("_blocks.8", 12, (3, 4)))]),
        ("conv3:1@3", [(1.0, Unit("conv3", 1, (3,)))]),
        ("conv3:5@center", [(1.0, Unit("conv3", 5, CENTER))]),
        ("_blocks.8", [(1.0, Unit("_blocks.8"))]),
        ("logit:285", [(1.0, Unit("logit", 285))]),
        ('logit:"Egyptian cat"', [(1.0, Unit("logit", class_name="Egyptian cat"))]),
        ("_blocks.8:dir=my-dirs/v 1.npy", [(1.0, Unit("_blocks.8", direction="my-dirs/v 1.npy"))]),
        ("a:1+b:2", [(1.0, Unit("a", 1)), (1.0, Unit("b", 2))]),
        ("a:1-b:2", [(1.0, Unit("a", 1)), (-1.0, Unit("b", 2))]),
        ("0.5*a:1", [(0.5, Unit("a", 1))]),
        ("-a:3", [(-1.0, Unit("a", 3))]),
        (" -0.5 * a:1 + 2*b:2 ", [(-0.5, Unit("a", 1)), (2.0, Unit("b", 2))]),
        ("1e-1*a:1", [(0.1, Unit("a", 1))]),
        ("0:3", [(1.0, Unit("0", 3))]),  # nn.Sequential children are named by digits
        ("features.10:7@0,1", [(1.0, Unit("features.10", 7, (0, 1)))]),
    ],
)
def test_every_form_parses(text, terms):
    assert list(parse_units(text).terms) == terms


def test_minimization_and_algebra():
    a, b = parse_units("a:1"), parse_units("b:2")
    assert parse_units("-a:1").is_minimization
    assert not parse_units("a:1-b:2").is_minimization
    combined = 2 * a - 0.5 * b
    assert combined.terms == ((2.0, Unit("a", 1)), (-0.5, Unit("b", 2)))
    assert parse_units(str(combined)) == combined  # printing round-trips


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty unit address"),
        ("   ", "empty unit address"),
        ("a:", "expected a channel number"),
        ("a:x", "expected a channel number"),
        ("a:1@", "expected Y,X, 'center' or 'cls'"),
        ("a:1@3,", "expected Y,X, 'center' or 'cls'"),
        ("a:1 b:2", "expected + or -"),
        ("a:1+", "expected a layer name"),
        ("0.5*", "expected a layer name"),
        ("*a:1", "expected a layer name"),
        ('b:"cat"', "only goes with logit"),
        ('logit:"cat', "unterminated"),
        ("a:dir=vector.txt", "expected dir=FILE.npy"),
    ],
)
def test_every_error_is_one_clear_line(text, message):
    with pytest.raises(FeaturelensError) as caught:
        parse_units(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_channel_ranges_expand():
    assert expand_unit_ranges(["a:2..4", "b:1"]) == ["a:2", "a:3", "a:4", "b:1"]
    with pytest.raises(FeaturelensError, match="must not be below"):
        expand_unit_ranges(["a:4..2"])
