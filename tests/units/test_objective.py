"""Validating unit expressions against a real model and computing their values."""

import numpy as np
import pytest
import torch

from featurelens.capture import list_layers
from featurelens.errors import FeaturelensError
from featurelens.units import expression_value, parse_units, resolve_expression


@pytest.fixture(scope="module")
def lite0_layers(lite0):
    return list_layers(lite0.module, lite0.normalize(torch.full((1, 3, 64, 64), 0.5)))


def test_values_follow_the_definitions():
    act = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    acts = {"L": act}
    assert torch.equal(expression_value(parse_units("L:1"), acts), act[:, 1].mean((1, 2)))
    assert torch.equal(expression_value(parse_units("L:1@1,0"), acts), act[:, 1, 1, 0])
    assert torch.equal(expression_value(parse_units("L:2@center"), acts), act[:, 2, 1, 1])
    assert torch.equal(expression_value(parse_units("L"), acts), act.pow(2).flatten(1).mean(1))
    combined = expression_value(parse_units("L:0-0.5*L:2"), acts)
    assert torch.allclose(combined, act[:, 0].mean((1, 2)) - 0.5 * act[:, 2].mean((1, 2)))


def test_direction_is_a_normalised_dot_product(tmp_path):
    direction = np.array([3.0, 0.0, 4.0], dtype=np.float32)
    path = tmp_path / "d.npy"
    np.save(path, direction)
    act = torch.randn(2, 3, 4, 4)
    value = expression_value(parse_units(f"L:dir={path}"), {"L": act})
    expected = act.mean((2, 3)) @ torch.tensor([0.6, 0.0, 0.8])
    assert torch.allclose(value, expected, atol=1e-6)


def test_class_names_resolve_to_indices(lite0, lite0_layers):
    resolved = resolve_expression(parse_units('logit:"Egyptian cat"'), lite0, lite0_layers)
    assert resolved.terms[0][1].channel == 285


@pytest.mark.parametrize(
    "text, message",
    [
        ("_blocks.8:112", "valid channels are 0..111"),
        ("_blocks.8:-1", "expected a channel number"),
        ("_blocks.88:1", "closest: _blocks.8"),
        ("_blokcs.8:1", "closest: _blocks.8"),
        ("_blocks.8:3@9,0", "valid 0..3,0..3"),
        ("logit:1000", "valid channels are 0..999"),
        ('logit:"egyptian kat"', "did you mean 'egyptian cat'"),
    ],
)
def test_resolution_errors_name_the_fix(lite0, lite0_layers, text, message):
    with pytest.raises(FeaturelensError) as caught:
        resolve_expression(parse_units(text), lite0, lite0_layers)
    assert message in str(caught.value)
